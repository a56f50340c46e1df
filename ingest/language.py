"""Code block languages: normalise fence info strings, or guess when a fence has none."""

from __future__ import annotations

import json
import re

ALIASES = {
    "yml": "yaml", "ts": "typescript", "tsx": "typescript", "js": "javascript", "mjs": "javascript",
    "jsx": "javascript", "cjs": "javascript", "node": "javascript", "sh": "bash", "shell": "bash", "zsh": "bash",
    "console": "bash", "tf": "hcl", "terraform": "hcl", "py": "python", "jsonc": "json",
    "python3": "python",
}
_CHECKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hcl", re.compile(r'^\s*(resource|provider|variable|module|output|data|terraform)\s+("|\{)', re.M)),
    ("python", re.compile(r"^\s*(def |async def |from [\w.]+ import |import [\w.]+$|class \w+.*:$)", re.M)),
    ("typescript", re.compile(r"^\s*(interface |type \w+ =|export (const|async function) \w+\s*[:(<].*:)|"
                              r":\s*(string|number|boolean|Promise<)", re.M)),
    ("javascript", re.compile(r"^\s*(const |let |function |export |module\.exports|import .* from )"
                              r"|=>|require\(", re.M)),
    ("bash", re.compile(r"^\s*(#!/bin/|\$ |aws |sam |npm |npx |pip |curl |terraform |serverless |sls |"
                        r"cdk |docker |gcloud |az |export \w+=)", re.M)),
)


def normalise(info: str) -> str:
    """The fence's language word, reduced to characters a renderer cannot misread (`<button>` is no language)."""
    word = info.split()[0].lower() if info.split() else ""
    word = re.sub(r"[^a-z0-9+#.-]", "", word.strip("{}."))[:32]
    return ALIASES.get(word, word)


def _is_json(code: str) -> bool:
    stripped = code.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return bool(re.search(r'^\s*"[^"]+"\s*:', stripped, re.M))
    return True


def _is_yaml(code: str) -> bool:
    lines = [ln for ln in code.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    keyed = [ln for ln in lines if re.match(r"^\s*(- )?[\w.\-/\"']+:(\s|$)", ln)]
    return bool(lines) and len(keyed) / len(lines) >= 0.5


def detect(code: str) -> str:
    """A best guess among json, yaml, hcl, python, typescript, javascript, bash; else 'text'."""
    if _is_json(code):
        return "json"
    for language, pattern in _CHECKS[:1]:
        if pattern.search(code):
            return language
    if _is_yaml(code):
        return "yaml"
    for language, pattern in _CHECKS[1:]:
        if pattern.search(code):
            return language
    return "text"


def language_of(info: str, code: str) -> str:
    return normalise(info) or detect(code)
