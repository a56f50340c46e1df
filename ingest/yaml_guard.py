"""YAML that would explode when loaded: aliases counted without expanding them.

A "billion laughs" file defines an anchor, then lists that alias nine times under a new anchor,
and so on: a few hundred bytes that expand to billions of nodes in anything that walks the loaded
data (a `str()`, a JSON dump, a validator). PyYAML's composer keeps each alias as a reference to
the one node, so the node graph is small; its expanded size is counted over that graph with each
node's size remembered, and a file past the limit is refused before anything loads it.
"""

from __future__ import annotations

import re

import yaml

MAX_NODES = 100_000  # a 5,000-line template has about 20,000 nodes
_ANCHOR = re.compile(r"&[^\s\[\]{},]+")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def expansion_problem(text: str, limit: int = MAX_NODES) -> str:
    """Why this YAML must not be loaded (aliases expanding past `limit` nodes, or nesting too deep), or ""."""
    if not _ANCHOR.search(text):
        return ""  # no anchors, no aliases to expand: the common case costs one regex scan
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(key) + size(value) for key, value in node.value)
        else:
            total = 1
        sizes[id(node)] = total
        return total

    try:
        expanded = sum(size(doc) for doc in yaml.compose_all(text, Loader=_LOADER) if doc is not None)
    except RecursionError:
        return "YAML nested too deeply, or an alias inside its own anchor; not loaded"
    except yaml.YAMLError:
        return ""  # not valid YAML: no expansion happens either; the caller treats it as text
    if expanded > limit:
        return (f"YAML aliases expand to {expanded:,} nodes, over the {limit:,} limit "
                "(a 'billion laughs' YAML bomb); not loaded")
    return ""
