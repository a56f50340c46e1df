"""The template checkers themselves: each accepts a good example and rejects a bad one."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.kb import template_checks as tc

SAM_HEADER = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
"""
GOOD_SAM = SAM_HEADER + """\
Resources:
  OrdersFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Environment:
        Variables:
          TABLE: !Ref OrdersTable
          TABLE_ARN: !GetAtt OrdersTable.Arn
  OrdersTable:
    Type: AWS::Serverless::SimpleTable
"""
SAM_NO_RUNTIME = GOOD_SAM.replace("      Runtime: python3.12\n", "")
SAM_BAD_REF = GOOD_SAM.replace("!Ref OrdersTable", "!Ref MissingTable")
CFN_UNUSED_PARAMETER = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Unused:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
"""
CFN_JSON_BAD_TYPE = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {"Queue": {"Type": "AWS::SQS::Queueue"}},
}, indent=2)


def _template(code: str, info: str, line: int = 10) -> tc.Template:
    return tc.Template("kb/patterns/demo/demo.md", line, info, textwrap.dedent(code))


CFN_CASES = {
    "good": _template(GOOD_SAM, "yaml"),
    "no-runtime": _template(SAM_NO_RUNTIME, "yaml", 20),
    "bad-ref": _template(SAM_BAD_REF, "yml", 30),
    "unused-parameter": _template(CFN_UNUSED_PARAMETER, "yaml", 40),
    "bad-type-json": _template(CFN_JSON_BAD_TYPE, "json", 50),
}


@pytest.fixture(scope="module")
def cfn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tc.CfnFinding]]:
    sources = {}
    for template in CFN_CASES.values():
        suffix = tc.cfn_suffix(template)
        assert suffix is not None, template.label
        sources[template.label] = (template.code, suffix)
    return tc.lint_cfn(sources, tmp_path_factory.mktemp("cfn-unit"))


# --- fences -------------------------------------------------------------------------------------

DOC = """\
---
id: demo
---
# Demo

```yaml
a: 1
```

~~~python title="x"
print("hi")
~~~

````markdown
```json
{"nested": "ignored"}
```
````

- item

  ```bash
  echo indented
  ```

```
no language
```
"""


def test_find_fences_reports_opening_line_info_and_code() -> None:
    fences = tc.find_fences(DOC)
    assert [(line, info.split()[0] if info else "") for line, info, _ in fences] == [
        (6, "yaml"), (10, "python"), (14, "markdown"), (22, "bash"), (26, ""),
    ]
    assert fences[2][2] == '```json\n{"nested": "ignored"}\n```'
    assert fences[3][2] == "echo indented"


def test_collect_templates_and_locate(tmp_path: Path) -> None:
    (tmp_path / "kb" / "patterns" / "demo").mkdir(parents=True)
    (tmp_path / "kb" / "patterns" / "demo" / "demo.md").write_text(DOC)
    templates = tc.collect_templates(tmp_path)
    assert templates[0].label == "kb/patterns/demo/demo.md:6 (yaml)"
    assert templates[-1].label == "kb/patterns/demo/demo.md:26 (no language)"
    assert templates[0].locate(tc.Issue("boom", 1)) == "kb/patterns/demo/demo.md:7: boom"
    assert templates[0].locate(tc.Issue("boom")) == "kb/patterns/demo/demo.md:6: boom"


@pytest.mark.parametrize(("info", "language"), [
    ("yml", "yaml"), ("ts", "typescript"), ("tsx", "tsx"), ("js", "javascript"), ("sh", "bash"),
    ("shell", "bash"), ("terraform", "hcl"), ("Python title=x", "python"), ("", ""),
])
def test_normalise_language(info: str, language: str) -> None:
    assert tc.normalise_language(info) == language


def test_is_template_counts_non_blank_lines() -> None:
    assert tc.is_template(_template("a\n\nb\nc", "text"))
    assert not tc.is_template(_template("a\n\n\nb", "text"))


# --- YAML and JSON ------------------------------------------------------------------------------


def test_yaml_short_tags_become_long_form() -> None:
    code = textwrap.dedent("""\
        a: !GetAtt Foo.Arn
        b: !GetAtt [Foo, Arn]
        c: !Ref Bar
        d: !Sub
          - "${X}-suffix"
          - X: !Ref Baz
        e: !If [IsProd, !Ref A, !Ref "AWS::NoValue"]
        f: !Condition IsProd
        g: !Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}
        h: !GetAZs ''
        i: !GetAtt Db.Endpoint.Address
        """)
    documents, issues = tc.load_yaml(code)
    assert issues == []
    doc = documents[0]
    assert doc["a"] == {"Fn::GetAtt": ["Foo", "Arn"]} == doc["b"]
    assert doc["c"] == {"Ref": "Bar"}
    assert doc["d"] == {"Fn::Sub": ["${X}-suffix", {"X": {"Ref": "Baz"}}]}
    assert doc["e"]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert doc["f"] == {"Condition": "IsProd"}
    assert doc["g"]["Fn::Transform"]["Name"] == "AWS::Include"
    assert doc["h"] == {"Fn::GetAZs": ""}
    assert doc["i"] == {"Fn::GetAtt": ["Db", "Endpoint.Address"]}


@pytest.mark.parametrize("tag", tc._CFN_TAGS)
def test_every_cfn_tag_parses_on_scalar_sequence_and_mapping(tag: str) -> None:
    code = f"s: !{tag} x.y\nq: !{tag} [a, b]\nm: !{tag} {{k: v}}\n"
    documents, issues = tc.load_yaml(code)
    assert issues == []
    assert set(documents[0]) == {"s", "q", "m"}


@pytest.mark.parametrize(("code", "line", "fragment"), [
    ("a: 1\nb: [1, 2\nc: 3\n", 3, "YAML"),
    ("a: !Bogus x\n", 1, "!Bogus"),
    ("a: !!python/object:os.system x\n", 1, "python/object"),
    ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a'"),
])
def test_bad_yaml_is_reported_with_its_line(code: str, line: int, fragment: str) -> None:
    documents, issues = tc.load_yaml(code)
    assert documents == []
    assert issues[0].line == line
    assert fragment in issues[0].message


def test_yaml_merge_keys_are_not_duplicates() -> None:
    documents, issues = tc.load_yaml("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n")
    assert issues == [] and documents[0]["derived"] == {"x": 1, "y": 2}


def test_json_is_strict() -> None:
    assert tc.load_json('{"a": [1, 2]}') == ([{"a": [1, 2]}], [])
    _, issues = tc.load_json('{\n  "a": 1,\n}')
    assert issues[0].line == 3
    for bad in ('{"a": NaN}', '{"a": 1, "a": 2}', '{"a": 1} // comment'):
        documents, issues = tc.load_json(bad)
        assert documents == [] and issues, bad


def test_cfn_detection() -> None:
    assert tc.cfn_suffix(_template(GOOD_SAM, "yaml")) == "yaml"
    assert tc.cfn_suffix(_template(CFN_JSON_BAD_TYPE, "json")) == "json"
    assert tc.cfn_suffix(_template("service: orders\nprovider: {name: aws}\nresources:\n  Resources: {}\n",
                                   "yaml")) is None
    assert not tc.is_cfn_template({"Resources": {}})


# --- Step Functions -----------------------------------------------------------------------------


def _machine(**states: dict[str, object]) -> dict[str, object]:
    return {"StartAt": next(iter(states)), "States": states}


GOOD_ASL = _machine(
    Validate={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Route",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]},
    Route={"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Fan"}],
           "Default": "Failed"},
    Fan={"Type": "Parallel", "Next": "Each",
         "Branches": [_machine(A={"Type": "Pass", "End": True})]},
    Each={"Type": "Map", "Next": "Done",
          "ItemProcessor": _machine(B={"Type": "Wait", "Seconds": 1, "Next": "C"}, C={"Type": "Succeed"})},
    Done={"Type": "Succeed"},
    Failed={"Type": "Fail", "Error": "Invalid"},
)


def test_good_asl_passes() -> None:
    assert tc.check_asl(GOOD_ASL) == []
    outcome = tc.check_template(_template(json.dumps(GOOD_ASL, indent=2), "json"), {})
    assert outcome.errors == []


@pytest.mark.parametrize(("machine", "fragment"), [
    (_machine(A={"Type": "Task", "Next": "Nowhere"}, B={"Type": "Succeed"}), "States.A.Next -> 'Nowhere'"),
    ({"StartAt": "Missing", "States": {"A": {"Type": "Succeed"}}}, "StartAt 'Missing'"),
    (_machine(A={"Type": "Pass"}, B={"Type": "Succeed"}), "neither Next nor End"),
    (_machine(A={"Type": "Pass", "Next": "A"}), "no terminal state"),
    (_machine(A={"Type": "Succeed"}, Orphan={"Type": "Succeed"}), "not reachable from StartAt 'A': Orphan"),
    (_machine(A={"Type": "Choice", "Choices": [{"Next": "B"}], "Default": "Gone"}, B={"Type": "Succeed"}),
     "States.A.Default -> 'Gone'"),
    (_machine(A={"Type": "Choice", "Choices": []}), "non-empty Choices"),
    (_machine(A={"Type": "Task", "End": True, "Catch": [{"Next": "X"}]}), "Catch[0].Next -> 'X'"),
    (_machine(A={"Type": "Parallel", "End": True, "Branches": [_machine(B={"Type": "Pass", "Next": "Z"})]}),
     "States.A.Branches[0].States.B.Next -> 'Z'"),
    (_machine(A={"Type": "Map", "End": True, "Iterator": _machine(B={"Type": "Pass"})}),
     "States.A.Iterator.States.B: Pass state has neither"),
    (_machine(A={"Type": "Lambda", "End": True}), "unknown Type 'Lambda'"),
])
def test_broken_asl_fails(machine: dict[str, object], fragment: str) -> None:
    problems = tc.check_asl(machine)
    assert any(fragment in problem for problem in problems), problems


def test_asl_inside_a_sam_definition_is_checked() -> None:
    code = SAM_HEADER + textwrap.dedent("""\
        Resources:
          Flow:
            Type: AWS::Serverless::StateMachine
            Properties:
              Definition:
                StartAt: A
                States:
                  A: {Type: Pass, Next: B}
        """)
    outcome = tc.check_template(_template(code, "yaml"), {})
    assert any("ASL: Resources.Flow.Properties.Definition.States.A.Next -> 'B'" in e for e in outcome.errors)


def test_iam_policy_needs_version_and_effect() -> None:
    good = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": "*"}]}
    assert tc.check_iam_policy(good) == []
    problems = tc.check_iam_policy({"Version": "2008-10-17", "Statement": {"Action": "s3:*"}})
    assert len(problems) == 2


# --- code checkers ------------------------------------------------------------------------------

GOOD_CODE = {
    "python": "import json\n\n\ndef handler(event, context):\n    return json.dumps(event)\n",
    "bash": 'set -euo pipefail\nfor f in *.zip; do\n  echo "$f"\ndone\n',
    "hcl": 'resource "aws_sqs_queue" "orders" {\n  name = "my-orders-queue"\n  tags = { team = "orders" }\n}\n',
    "toml": '[tool.demo]\nname = "orders"\n',
    "typescript": "export const handler = async (event: { id: string }): Promise<string> => {\n"
                  "  const cfg = { a: 1 } satisfies Record<string, number>;\n  return `${event.id}${cfg.a}`;\n};\n",
    "tsx": "export const App = () => <div className=\"x\">{1 + 1}</div>;\n",
    "javascript": "export default {\n  async fetch(request, env) {\n    return new Response(env?.X ?? 'ok');\n"
                  "  },\n};\n",
}
BAD_CODE = {  # language: (code, 1-based line of the problem inside the block, message fragment)
    "python": ("import os\n\n\ndef handler(event, context):\n    return event\n", 1, "F401"),
    "bash": ('echo start\nif [ -n "$X" ]; then\n  echo x\nfi fi\n', 4, "syntax error"),
    "hcl": ('resource "aws_sqs_queue" "orders" {\n  name = \n}\n', 2, "hcl2"),
    "toml": ('[a]\nb = 1\nb = 2\n', 3, "TOML"),
    "typescript": ("const a: number = 1;\nfunction f(x: string {\n  return x;\n}\n", 2, "tree-sitter"),
    "tsx": ("export const App = () => <div>{1 +}</div>;\n", 1, "tree-sitter"),
    "javascript": ("const ok = 1;\nconst = 2;\n", 2, "tree-sitter"),
}


@pytest.mark.parametrize("language", sorted(GOOD_CODE))
def test_good_code_passes(language: str) -> None:
    outcome = tc.check_template(_template(GOOD_CODE[language], language), {})
    assert (outcome.errors, outcome.skip_reason) == ([], None)


@pytest.mark.parametrize("language", sorted(BAD_CODE))
def test_bad_code_fails_at_its_file_line(language: str) -> None:
    code, line, fragment = BAD_CODE[language]
    outcome = tc.check_template(_template(code, language, line=10), {})
    assert outcome.errors, language
    assert outcome.errors[0].startswith(f"kb/patterns/demo/demo.md:{10 + line}: "), outcome.errors
    assert fragment in outcome.errors[0]


def test_python_syntax_error_has_its_line() -> None:
    assert tc.check_python("x = 1\ndef f(:\n    pass\n")[0].line == 2


def test_ruff_reports_bugbear_findings() -> None:
    issues = tc.check_python("def f(items=[]):\n    return items\n")
    assert [issue.message.split(":")[0] for issue in issues] == ["ruff B006"]


@pytest.mark.parametrize(("info", "reason"), [("mermaid", "no checker for language 'mermaid'"),
                                              ("", "fence names no language")])
def test_unchecked_languages_are_skipped_with_a_reason(info: str, reason: str) -> None:
    outcome = tc.check_template(_template("graph TD\n  A --> B\n", info), {})
    assert outcome.skip_reason is not None and reason in outcome.skip_reason


# --- cfn-lint -----------------------------------------------------------------------------------


def _cfn_outcome(case: str, cfn: dict[str, list[tc.CfnFinding]]) -> tc.Outcome:
    return tc.check_template(CFN_CASES[case], cfn)


def test_good_sam_template_passes_cfn_lint(cfn: dict[str, list[tc.CfnFinding]]) -> None:
    outcome = _cfn_outcome("good", cfn)
    assert (outcome.errors, outcome.warnings) == ([], [])


def _file_line(template: tc.Template, marker: str) -> int:
    block_line = next(i for i, text in enumerate(template.code.splitlines(), 1) if marker in text)
    return template.file_line(block_line)


@pytest.mark.parametrize(("case", "rule", "marker"), [
    ("no-runtime", "W2533", "CodeUri"),  # promoted: CloudFormation rejects a Zip function without Runtime
    ("bad-ref", "E3030", "MissingTable"),
    ("bad-type-json", "E3006", "Queueue"),
])
def test_broken_cfn_templates_fail(cfn: dict[str, list[tc.CfnFinding]], case: str, rule: str, marker: str) -> None:
    errors = _cfn_outcome(case, cfn).errors
    line = _file_line(CFN_CASES[case], marker)
    assert any(f"cfn-lint {rule}" in error for error in errors), errors
    assert all(error.startswith("kb/patterns/demo/demo.md:") for error in errors)
    assert any(error.startswith(f"kb/patterns/demo/demo.md:{line}: cfn-lint {rule}") for error in errors), errors


def test_cfn_lint_warnings_are_reported_not_failed(cfn: dict[str, list[tc.CfnFinding]]) -> None:
    outcome = _cfn_outcome("unused-parameter", cfn)
    assert outcome.errors == []
    line = _file_line(CFN_CASES["unused-parameter"], "Unused:")
    assert outcome.warnings == [f"kb/patterns/demo/demo.md:{line}: cfn-lint W2001: Parameter Unused not used."]


def test_unlinted_cfn_template_is_an_error() -> None:
    outcome = tc.check_template(_template(GOOD_SAM, "yaml"), {})
    assert any("was not linted" in error for error in outcome.errors)


def test_multi_document_cfn_yaml_is_rejected() -> None:
    outcome = tc.check_template(_template(GOOD_SAM + "---\nother: 1\n", "yaml"), {})
    assert any("only document" in error for error in outcome.errors)
