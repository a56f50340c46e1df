"""mkdocs-material markdown reduced to plain CommonMark, line for line.

Docs sites written for mkdocs-material wrap much of their text in admonitions (`!!! note "T"`,
`??? tip`, `???+ info`) and content tabs (`=== "Python"`) whose bodies are indented by four
spaces, so a CommonMark parser reads them as indented code. They also pull code in from other
files with snippet lines (`--8<-- "examples/app.py"`). This module:

- turns each admonition or tab marker into a bold label line and un-indents its body;
- blanks HTML comments and attribute lists (`{target="_blank"}`), and reduces inline HTML tags to
  their text, outside code;
- blanks snippet lines in prose (they pull in whole pages that are indexed on their own) and leaves
  snippet lines inside code fences for the chunker, which resolves them against the source root.

Every output line stands for the input line with the same number, so citations keep true lines.
"""

from __future__ import annotations

import re

SNIPPET = re.compile(r'^\s*-{2,3}8<--\s+"([^"]+)"\s*$')
_CONTAINER = re.compile(r"^(\s*)(!!!|\?\?\?\+?|===)\s*(.*)$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ATTR_LIST = re.compile(r"\{\s*(?:target|rel|data-|\.|#|:)[^{}\n]*\}")
_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
_ICON = re.compile(r":(?:octicons|material|simple|fontawesome)-[\w-]+:\s?")
_MARKERS = re.compile(r"^\s*(!!!|\?\?\?|===)|-{2,3}8<--", re.M)


def is_mkdocs(text: str) -> bool:
    """Whether the text uses any mkdocs-material block syntax worth converting."""
    return _MARKERS.search(text) is not None


def _label(marker: str, rest: str) -> str:
    """`!!! warning "Mind the quota"` -> `**Warning: Mind the quota**`; `=== "app.py"` -> `**app.py**`."""
    match = re.match(r'^([\w-]+)?\s*(?:"(.*)")?\s*$', rest.strip())
    kind, title = (match.group(1) or "", match.group(2) or "") if match else ("", rest.strip().strip('"'))
    if marker == "===":
        return f"**{title or kind}**" if (title or kind) else ""
    kind = kind.replace("-", " ").capitalize() or "Note"
    return f"**{kind}: {title}**" if title else f"**{kind}:**"


def _blank_comments(text: str) -> str:
    return _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def normalize(text: str) -> str:
    """The text with mkdocs-material syntax converted to CommonMark; line count unchanged."""
    lines = _blank_comments(text).split("\n")
    out: list[str] = []
    stack: list[int] = []  # the column where each open container's body starts
    fence = ""
    for raw in lines:
        line = raw.expandtabs(4)
        if not line.strip():
            out.append("")
            continue
        indent = len(line) - len(line.lstrip(" "))
        while stack and indent < stack[-1]:
            stack.pop()
        body = strip_columns(raw, stack[-1]) if stack else raw
        if fence:
            if body.strip().startswith(fence) and not body.strip().strip(fence[0]):
                fence = ""
            out.append(body)
            continue
        opened = _FENCE.match(body)
        if opened:
            fence = opened.group(1)
            out.append(body)
            continue
        container = _CONTAINER.match(body)
        if container:
            lead, marker, rest = container.groups()
            out.append(lead + _label(marker, _prose(rest)))  # a title holds links and tags like any prose
            stack.append((stack[-1] if stack else 0) + len(lead) + 4)
            continue
        out.append("" if SNIPPET.match(body) else _prose(body))
    return "\n".join(out)


def strip_columns(line: str, columns: int) -> str:
    """The line without its first `columns` columns of indentation (a tab reaching the next multiple
    of four); tabs inside code stay tabs."""
    column = 0
    for i, char in enumerate(line):
        if column >= columns or char not in " \t":
            return " " * (column - columns) + line[i:]
        column = column + 4 - column % 4 if char == "\t" else column + 1
    return ""


def _prose(line: str) -> str:
    line = _ICON.sub("", _ATTR_LIST.sub("", line))
    return _TAG.sub("", line) if "<" in line else line


def snippet_file(spec: str) -> tuple[str, int | None, int | None]:
    """A snippet spec as (file, first line, last line): pymdownx's `"file:3:9"` takes lines 3 to 9."""
    match = re.match(r"^(.*?):(\d+):(\d+)$", spec)
    if match:
        return match.group(1), int(match.group(2)), int(match.group(3))
    return spec, None, None


def snippet_paths(code: str) -> list[str] | None:
    """The snippet specs a code block includes, when every line of it is a snippet line; else None."""
    lines = [ln for ln in code.split("\n") if ln.strip()]
    paths = [m.group(1) for m in (SNIPPET.match(ln) for ln in lines) if m]
    return paths if lines and len(paths) == len(lines) else None
