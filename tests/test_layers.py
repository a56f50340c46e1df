"""Data flows one way: a package imports only packages below it, at module level or inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# Each package and the packages it may import. `core` (settings, errors, providers, text units) is
# the bottom and imports nothing of the project; `app` is the composition root at the top.
ALLOWED = {
    "core": set(),
    "ingest": {"core"},
    "bot": {"core", "ingest"},
    "ui": {"core", "bot", "ingest"},
    "evals": {"core", "bot", "ingest"},
    "app": {"core", "ingest", "bot", "ui", "evals"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_package_imports_one_above_it() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for imported in _imports(path) & set(ALLOWED) - {package} - allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, wrong


def test_the_kb_command_is_the_composition_root() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'kb = "app.cli:main"' in pyproject
    assert "importlib" not in (ROOT / "ingest" / "cli.py").read_text()
