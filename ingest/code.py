"""Code and IaC files as documents of their own: the templates a README describes.

A SAM or CloudFormation template, a `serverless.yml`, a Terraform file, a Step Functions
definition or a handler becomes a small markdown document that the one chunker reads like any
other: a title (the path), a paragraph that says what the file is (its leading comment, the
resource types, functions and AWS services it uses: words people search for), and the file itself
as `--8<--` snippet lines, so each part is a template cited at the file's own lines. A large file
is cut at its top-level blocks (resources, functions, Terraform blocks), never inside one.

Only files that are infrastructure or code are taken: YAML must look like CloudFormation, SAM or
the Serverless Framework, and JSON like a state machine; other YAML and JSON (CI settings,
package manifests) is configuration, not knowledge.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath

LANGUAGES = {".py": "python", ".ts": "typescript", ".js": "javascript", ".mjs": "javascript", ".go": "go",
             ".java": "java", ".cs": "csharp", ".tf": "hcl"}
SUFFIXES = (*LANGUAGES, ".yaml", ".yml", ".json")
MAX_PART_LINES = 120  # longer files are cut at top-level blocks into parts of about this size

_CFN = re.compile(r"^\s*(AWSTemplateFormatVersion\s*:|Transform\s*:\s*['\"]?AWS::Serverless)", re.M)
_SERVERLESS = re.compile(r"^service\s*:", re.M)
_RESOURCE_TYPES = re.compile(r"""["']?Type["']?\s*:\s*["']?((?:AWS|Custom|Alexa)::[\w:]+)""")
_TF_BLOCKS = re.compile(r'^(resource|data|module)\s+"([\w-]+)"(?:\s+"([\w-]+)")?', re.M)
_FUNCTIONS = re.compile(r"^\s*(?:async\s+def|def|func|function|export\s+(?:async\s+)?function|"
                        r"export\s+const|public\s+(?:static\s+)?(?:async\s+)?[\w<>\[\]]+)\s+(\w+)", re.M)
_DECORATORS = re.compile(r"^\s*@([\w.]+)", re.M)
_SERVICES = re.compile(r"""(?:boto3\.(?:client|resource)\(\s*["']([\w-]+)["']|@aws-sdk/client-([\w-]+)|"""
                       r"""aws-sdk-go(?:-v2)?/service/(\w+)|arn:aws:states:::([\w-]+))""")
_ASL_TASKS = re.compile(r'"Resource"\s*:\s*"arn:aws:states:::([\w.:-]+)"')
_TOP_LEVEL = {
    "python": re.compile(r"^(?:@|def |async def |class )"),
    "typescript": re.compile(r"^(?:export |function |class |const |async function )"),
    "javascript": re.compile(r"^(?:export |function |class |const |async function |module\.exports)"),
    "go": re.compile(r"^(?:func |type )"),
    "hcl": re.compile(r"^(?:resource|data|module|variable|output|locals|provider|terraform)\b"),
    "yaml": re.compile(r"^  [A-Za-z0-9]+:\s*$"),  # a resource under Resources:, or a function under functions:
}


def code_language(name: str, text: str) -> str | None:
    """The language of a code or IaC file worth indexing, or None for files that are not knowledge."""
    lower = name.lower()
    suffix = PurePosixPath(lower).suffix
    if suffix in LANGUAGES:
        return LANGUAGES[suffix]
    if suffix in (".yaml", ".yml"):
        base = PurePosixPath(lower).name
        if base in ("serverless.yml", "serverless.yaml") or _CFN.search(text) or (
                base.startswith("template") and "Resources:" in text):
            return "yaml"
        return "yaml" if _SERVERLESS.search(text) and "functions:" in text else None
    if suffix == ".json":
        if lower.endswith(".asl.json"):
            return "json"
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
            return None
        return "json" if isinstance(data, dict) and "StartAt" in data and "States" in data else None
    return None


def leading_comment(text: str) -> str:
    """The file's opening comment or docstring, joined into one paragraph (shebangs and pragmas left out)."""
    lines = text.split("\n")
    out: list[str] = []
    docstring = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', text, re.S)
    if docstring:
        return " ".join(docstring.group(1).split())
    for line in lines:
        stripped = line.strip()
        if not stripped and not out:
            continue
        if stripped.startswith(("#!", "# -*-", "// @ts-", "/* eslint")):
            continue
        match = re.match(r"^(?:#+|//+|/\*+|\*+/?|--)\s?(.*)$", stripped)
        if not match:
            break
        if match.group(1).strip():
            out.append(match.group(1).strip().rstrip("*/").strip())
    return " ".join(out)


def _described(text: str, language: str) -> str:
    """A template's own Description (CloudFormation, SAM) or Comment (a state machine)."""
    if language == "yaml":
        match = re.search(r"^Description:\s*['\"]?(.+?)['\"]?\s*$", text, re.M)
        return match.group(1) if match else ""
    if language == "json":
        match = re.search(r'^\s*"Comment"\s*:\s*"([^"]+)"', text, re.M)
        return match.group(1) if match else ""
    return ""


def facts(text: str, language: str) -> list[str]:
    """Searchable facts: resource types, Terraform blocks, functions, decorators, services used."""
    found: list[str] = []
    types = sorted(set(_RESOURCE_TYPES.findall(text)))
    if types:
        found.append("Resource types: " + ", ".join(types) + ".")
    blocks = sorted({f"{kind} {a}" + (f".{b}" if b else "") for kind, a, b in _TF_BLOCKS.findall(text)})
    if blocks and language == "hcl":
        found.append("Terraform blocks: " + ", ".join(blocks[:20]) + ".")
    functions = list(dict.fromkeys(_FUNCTIONS.findall(text)))
    if functions and language not in ("yaml", "json", "hcl"):
        found.append("Functions: " + ", ".join(functions[:20]) + ".")
    decorators = list(dict.fromkeys(_DECORATORS.findall(text)))
    if decorators and language == "python":
        found.append("Decorators: " + ", ".join(decorators[:10]) + ".")
    services = sorted({next(g for g in groups if g) for groups in _SERVICES.findall(text)})
    tasks = sorted(set(_ASL_TASKS.findall(text)))
    if services:
        found.append("AWS services used: " + ", ".join(services) + ".")
    if tasks:
        found.append("Step Functions task integrations: " + ", ".join(tasks) + ".")
    return found


def parts(text: str, language: str) -> list[tuple[int, int]]:
    """Line ranges (1-based, inclusive) covering the file, cut only where a top-level block starts."""
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= MAX_PART_LINES:
        return [(1, len(lines))]
    starts = _block_starts(lines, language)
    ranges: list[tuple[int, int]] = []
    begin = 1
    for start in starts:
        if start - begin >= MAX_PART_LINES // 2:  # keep parts large enough to say something
            ranges.append((begin, start - 1))
            begin = start
    ranges.append((begin, len(lines)))
    return ranges


def _block_starts(lines: list[str], language: str) -> list[int]:
    pattern = _TOP_LEVEL.get(language)
    if pattern is None:
        return []
    starts = []
    for number, line in enumerate(lines, start=1):
        previous = lines[number - 2] if number > 1 else ""
        if number > 1 and pattern.match(line) and not previous.lstrip().startswith(("@", "#", "//")):
            starts.append(number)
    return starts


def markdown(path: str, text: str, language: str) -> str:
    """The markdown document for a code file: title, what it is, and the file as snippet includes."""
    name = PurePosixPath(path).name
    kind = {"yaml": "infrastructure template", "json": "state machine definition", "hcl": "Terraform configuration"}
    about = [f"{name} is a {language} {kind.get(language, 'source file')} at {path}."]
    comment = leading_comment(text) or _described(text, language)
    if comment:
        about.append(comment if comment.endswith((".", "!", "?")) else comment + ".")
    about.extend(facts(text, language))
    includes = "\n".join(f'--8<-- "{path}:{a}:{b}"' for a, b in parts(text, language))
    return f"# {path}\n\n" + " ".join(about) + f"\n\n```{language}\n{includes}\n```\n"
