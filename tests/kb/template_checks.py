"""Checkers for the fenced code blocks ("templates") in kb/**/*.md.

Each checker takes the code of one block and returns Issues whose line numbers are 1-based
lines inside the block; Template.locate turns them into `kb/...md:LINE` file positions.
cfn-lint is the exception: it is slow to start, so lint_cfn runs it once over many templates.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingest.language import normalise
from ingest.markdown import parse_sections

BIN = Path(sys.executable).parent
# cfn-lint warnings for templates CloudFormation would reject at deploy time: treated as errors.
PROMOTED_WARNINGS = frozenset({"W2533"})  # Zip function without Runtime/Handler
# ruff's E, F and B rules at the project's line length, ignoring the rest of its configuration.
RUFF_ARGS = ("--isolated", "--select", "E,F,B", "--line-length", "120")


@dataclass(frozen=True)
class Issue:
    """One problem; line is 1-based inside the block, or None when the tool gives no line."""

    message: str
    line: int | None = None


@dataclass(frozen=True)
class Template:
    path: str  # relative to the repository, e.g. kb/patterns/x/y.md
    line: int  # 1-based line of the opening fence
    info: str  # the fence's info string, verbatim
    code: str

    @property
    def language(self) -> str:
        return normalise_language(self.info)

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line} ({self.language or 'no language'})"

    def file_line(self, block_line: int) -> int:
        return self.line + block_line

    def locate(self, issue: Issue) -> str:
        line = self.line if issue.line is None else self.file_line(issue.line)
        return f"{self.path}:{line}: {issue.message}"


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skip_reason: str | None = None


@dataclass(frozen=True)
class CfnFinding:
    rule: str
    level: str  # Error, Warning or Informational
    line: int
    message: str

    @property
    def is_error(self) -> bool:
        return self.level == "Error" or self.rule in PROMOTED_WARNINGS


def normalise_language(info: str) -> str:
    """The ingester's own normalisation (ingest.language), so a fence is checked as the language it is
    indexed as; except TSX, indexed as typescript but parsed with the tsx grammar (JSX is not TypeScript)."""
    words = info.split()
    return "tsx" if words and words[0].lower().strip("{}.") == "tsx" else normalise(info)


# --- finding fences ---------------------------------------------------------------------------


def find_fences(text: str) -> list[tuple[int, str, str]]:
    """(opening fence line 1-based, info string, code) of every fenced block, found by the ingester's
    own parser (ingest.markdown, tables enabled), so the checks see exactly the templates it indexes."""
    return [(block.start_line, block.info, block.text) for section in parse_sections(text)
            for block in section.blocks if block.kind == "fence"]


def collect_templates(root: Path, folder: str = "kb") -> list[Template]:
    templates = []
    for md in sorted((root / folder).rglob("*.md")):
        relative = md.relative_to(root).as_posix()
        for line, info, code in find_fences(md.read_text(encoding="utf-8")):
            templates.append(Template(relative, line, info, code))
    return templates


def is_template(template: Template) -> bool:
    """The ingester's notion: a fence of at least 3 non-blank lines (shorter ones stay inline)."""
    return sum(1 for line in template.code.splitlines() if line.strip()) >= 3


# --- YAML and JSON ------------------------------------------------------------------------------

_CFN_TAGS = (
    "Ref", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
    "ImportValue", "Base64", "Cidr", "GetAZs", "Condition", "Transform",
)


class CfnYamlLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long form and rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}",
                    key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _construct_cfn_tag(loader: CfnYamlLoader, node: yaml.Node) -> dict[str, Any]:
    name = node.tag[1:]
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    key = name if name in {"Ref", "Condition"} else f"Fn::{name}"
    return {key: value}


for _tag in _CFN_TAGS:
    CfnYamlLoader.add_constructor(f"!{_tag}", _construct_cfn_tag)


def load_yaml(code: str) -> tuple[list[Any], list[Issue]]:
    try:
        return list(yaml.load_all(code, Loader=CfnYamlLoader)), []  # CfnYamlLoader is a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        return [], [Issue(f"YAML: {_one_line(str(error))}", line)]


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def load_json(code: str) -> tuple[list[Any], list[Issue]]:
    try:
        return [json.loads(code, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)], []
    except json.JSONDecodeError as error:
        return [], [Issue(f"JSON: {error.msg} (column {error.colno})", error.lineno)]
    except ValueError as error:
        return [], [Issue(f"JSON: {error}")]


def load_documents(template: Template) -> tuple[list[Any], list[Issue]]:
    return load_yaml(template.code) if template.language == "yaml" else load_json(template.code)


def is_cfn_template(document: Any) -> bool:
    return (isinstance(document, dict) and "Resources" in document
            and ("AWSTemplateFormatVersion" in document or "Transform" in document))


def cfn_suffix(template: Template) -> str | None:
    """'yaml' or 'json' when the block is a single CloudFormation/SAM document, else None."""
    if template.language not in {"yaml", "json"}:
        return None
    documents, issues = load_documents(template)
    if issues or len(documents) != 1 or not is_cfn_template(documents[0]):
        return None
    return template.language


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- Step Functions (Amazon States Language) ----------------------------------------------------

STATE_TYPES = frozenset({"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"})


def is_state_machine(value: Any) -> bool:
    return isinstance(value, dict) and "StartAt" in value and "States" in value


def find_state_machines(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ASL definition in a document (the document itself, or e.g. a SAM Definition property)."""
    if is_state_machine(value):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from find_state_machines(child, f"{path}{key}.")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from find_state_machines(child, f"{path}[{index}].")


def _is_terminal(state: Any) -> bool:
    return isinstance(state, dict) and (state.get("Type") in {"Succeed", "Fail"} or state.get("End") is True)


def _targets(state: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, target) for every transition out of a state."""
    found: list[tuple[str, Any]] = [(key, state[key]) for key in ("Next", "Default") if key in state]
    for group in ("Choices", "Catch"):
        rules = state.get(group)
        if isinstance(rules, list):
            found += [(f"{group}[{i}].Next", r.get("Next")) for i, r in enumerate(rules) if isinstance(r, dict)]
    return found


def _reachable(start: Any, states: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    queue = [start] if start in states else []
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        if isinstance(state, dict):
            queue += [t for _, t in _targets(state) if isinstance(t, str) and t in states]
    return seen


def _check_transitions(where: str, state: dict[str, Any], states: dict[str, Any]) -> list[str]:
    problems = [f"{where}.{key} -> {target!r} is not a state" for key, target in _targets(state)
                if not isinstance(target, str) or target not in states]
    kind = state.get("Type")
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            problems.append(f"{where}: Choice state needs a non-empty Choices list")
        elif any(not isinstance(c, dict) or "Next" not in c for c in choices):
            problems.append(f"{where}: every Choices rule needs a Next")
    elif not _is_terminal(state) and "Next" not in state:
        problems.append(f"{where}: {kind} state has neither Next nor End: true")
    if state.get("End") is True and "Next" in state:
        problems.append(f"{where}: has both Next and End: true")
    return problems


def _check_nested(where: str, state: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if state.get("Type") == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            return [f"{where}: Parallel state needs a non-empty Branches list"]
        for index, branch in enumerate(branches):
            problems += check_asl(branch, f"{where}.Branches[{index}].")
    elif state.get("Type") == "Map":
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        if key not in state:
            return [f"{where}: Map state needs an ItemProcessor (or Iterator)"]
        problems += check_asl(state[key], f"{where}.{key}.")
    return problems


def _check_state(where: str, state: Any, states: dict[str, Any]) -> list[str]:
    if not isinstance(state, dict):
        return [f"{where}: a state must be a mapping"]
    if state.get("Type") not in STATE_TYPES:
        return [f"{where}: unknown Type {state.get('Type')!r}"]
    return _check_transitions(where, state, states) + _check_nested(where, state)


def check_asl(machine: Any, where: str = "") -> list[str]:
    """Problems with a state machine's graph: dangling transitions, dead ends, unreachable states."""
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict) or not states:
        return [f"{where}States must be a non-empty mapping"]
    start = machine.get("StartAt")
    problems = [] if start in states else [f"{where}StartAt {start!r} is not a state"]
    for name, state in states.items():
        problems += _check_state(f"{where}States.{name}", state, states)
    if not any(_is_terminal(state) for state in states.values()):
        problems.append(f"{where}States: no terminal state (End: true, Succeed or Fail)")
    unreachable = [name for name in states if name not in _reachable(start, states)]
    if unreachable and start in states:
        problems.append(f"{where}States: not reachable from StartAt {start!r}: {', '.join(unreachable)}")
    return problems


def check_iam_policy(document: Any) -> list[str]:
    """A standalone IAM policy document needs Version 2012-10-17 and a Statement."""
    if not isinstance(document, dict) or "Statement" not in document:
        return []
    problems = []
    if document.get("Version") != "2012-10-17":
        problems.append(f"IAM policy Version must be '2012-10-17', not {document.get('Version')!r}")
    statements = document["Statement"]
    for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
        if not isinstance(statement, dict) or statement.get("Effect") not in {"Allow", "Deny"}:
            problems.append(f"IAM policy Statement[{index}] needs Effect Allow or Deny")
    return problems


# --- Python -------------------------------------------------------------------------------------


def check_python_syntax(code: str) -> list[Issue]:
    try:
        compile(code, "<template>", "exec", dont_inherit=True)
    except SyntaxError as error:
        return [Issue(f"SyntaxError: {error.msg}", error.lineno)]
    return []


def ruff_issues(code: str) -> list[Issue]:
    """`ruff check` with RUFF_ARGS over the block."""
    command = [str(BIN / "ruff"), "check", "--no-cache", *RUFF_ARGS,
               "--output-format", "json", "--stdin-filename", "x.py", "-"]
    result = subprocess.run(command, input=code, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode not in {0, 1}:
        return [Issue(f"ruff failed ({result.returncode}): {_one_line(result.stderr)}")]
    return [Issue(f"ruff {finding['code']}: {finding['message']}", finding["location"]["row"])
            for finding in json.loads(result.stdout)]


def check_python(code: str) -> list[Issue]:
    return check_python_syntax(code) or ruff_issues(code)


# --- shell, HCL, TOML ---------------------------------------------------------------------------

_BASH_LINE = re.compile(r"^bash: -c: line (\d+): (.*)$")


def check_bash(code: str) -> list[Issue]:
    result = subprocess.run(["bash", "-n", "-c", code], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode == 0:
        return []
    issues = []
    for text in result.stderr.splitlines():
        match = _BASH_LINE.match(text)
        issues.append(Issue(f"bash -n: {match[2]}", int(match[1])) if match else Issue(f"bash -n: {text}"))
    return issues or [Issue(f"bash -n exited {result.returncode}")]


def check_hcl(code: str) -> list[Issue]:
    import hcl2  # python-hcl2; imported here so a missing package fails only the HCL templates

    try:
        hcl2.loads(code)
    except Exception as error:  # lark raises a family of exceptions; all mean "does not parse"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return [Issue(f"hcl2: {first}", getattr(error, "line", None))]
    return []


_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")


def check_toml(code: str) -> list[Issue]:
    try:
        tomllib.loads(code)
    except tomllib.TOMLDecodeError as error:
        match = _TOML_AT.search(str(error))
        return [Issue(f"TOML: {error}", int(match[1]) if match else None)]
    return []


# --- TypeScript / JavaScript (tree-sitter) ------------------------------------------------------

_GRAMMARS = {  # language -> (module, function returning the grammar)
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "javascript": ("tree_sitter_javascript", "language"),
}


@functools.cache
def _parser(language: str) -> Any:
    import tree_sitter

    module_name, function = _GRAMMARS[language]
    grammar = getattr(importlib.import_module(module_name), function)()
    return tree_sitter.Parser(tree_sitter.Language(grammar))


def _syntax_errors(node: Any, code: bytes) -> Iterator[Issue]:
    if node.is_missing:
        yield Issue(f"tree-sitter: missing {node.type!r}", node.start_point[0] + 1)
    elif node.is_error:
        text = code[node.start_byte:node.end_byte].decode(errors="replace")
        yield Issue(f"tree-sitter: syntax error at {_one_line(text)[:60]!r}", node.start_point[0] + 1)
    if node.has_error and not node.is_error:
        for child in node.children:
            yield from _syntax_errors(child, code)


def check_script(code: str, language: str) -> list[Issue]:
    """Parse TypeScript/TSX/JavaScript; any ERROR or MISSING node in the tree is a failure."""
    try:
        parser = _parser(language)
    except ImportError as error:
        return [Issue(f"cannot check {language}: {error} (pip install tree-sitter-typescript "
                      "tree-sitter-javascript)")]
    source = code.encode()
    tree = parser.parse(source)
    return list(_syntax_errors(tree.root_node, source))[:10]


# --- cfn-lint, once for many templates ----------------------------------------------------------


def _cfn_lint_command() -> list[str]:
    binary = BIN / "cfn-lint"
    return [str(binary)] if binary.exists() else [sys.executable, "-m", "cfnlint"]


def lint_cfn(sources: Mapping[str, tuple[str, str]], workdir: Path) -> dict[str, list[CfnFinding]]:
    """Run cfn-lint once over {key: (code, 'yaml'|'json')}; findings per key (every key present)."""
    names: dict[str, str] = {}
    for index, (key, (code, suffix)) in enumerate(sources.items()):
        name = f"t{index:04d}.{suffix}"
        (workdir / name).write_text(code, encoding="utf-8")
        names[name] = key
    findings: dict[str, list[CfnFinding]] = {key: [] for key in sources}
    if not names:
        return findings
    command = [*_cfn_lint_command(), "--format", "json", "--", *names]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)
    try:
        matches = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"cfn-lint exited {result.returncode}: {result.stderr[-2000:]}") from error
    for match in matches:
        found = names.get(Path(match["Filename"] or "").name)
        if found is None:  # configuration errors (E0003) name no file
            raise RuntimeError(f"cfn-lint: {match['Rule']['Id']} {match['Message']}")
        start = match["Location"]["Start"]["LineNumber"]
        findings[found].append(CfnFinding(match["Rule"]["Id"], match["Level"], start, match["Message"]))
    return findings


# --- one template, all checks -------------------------------------------------------------------


def _structure_issues(template: Template, documents: list[Any]) -> list[Issue]:
    issues = []
    for document in documents:
        for where, machine in find_state_machines(document):
            issues += [Issue(f"ASL: {problem}") for problem in check_asl(machine, where)]
        if template.language == "json":
            issues += [Issue(problem) for problem in check_iam_policy(document)]
        if len(documents) > 1 and is_cfn_template(document):
            issues.append(Issue("a CloudFormation template must be the only document in its block"))
    return issues


def _check_data(template: Template, cfn: Mapping[str, list[CfnFinding]], outcome: Outcome) -> None:
    documents, issues = load_documents(template)
    issues += _structure_issues(template, documents)
    outcome.errors += [template.locate(issue) for issue in issues]
    if cfn_suffix(template) is None:
        return
    if template.label not in cfn:
        outcome.errors.append(f"{template.label}: CloudFormation template was not linted")
        return
    for finding in cfn[template.label]:
        text = template.locate(Issue(f"cfn-lint {finding.rule}: {_one_line(finding.message)}", finding.line))
        if finding.is_error:
            outcome.errors.append(text)
        elif finding.level == "Warning":
            outcome.warnings.append(text)


_CODE_CHECKS: dict[str, Callable[[str], list[Issue]]] = {
    "python": check_python,
    "bash": check_bash,
    "hcl": check_hcl,
    "toml": check_toml,
    "typescript": functools.partial(check_script, language="typescript"),
    "tsx": functools.partial(check_script, language="tsx"),
    "javascript": functools.partial(check_script, language="javascript"),
}


def check_template(template: Template, cfn: Mapping[str, list[CfnFinding]]) -> Outcome:
    """Every check for one block; cfn holds the session's cfn-lint findings keyed by Template.label."""
    outcome = Outcome()
    language = template.language
    if not language:
        outcome.skip_reason = "fence names no language (see test_every_fence_names_a_language)"
    elif language in {"yaml", "json"}:
        _check_data(template, cfn, outcome)
    elif language in _CODE_CHECKS:
        outcome.errors += [template.locate(issue) for issue in _CODE_CHECKS[language](template.code)]
    else:
        outcome.skip_reason = f"no checker for language {language!r}"
    return outcome
