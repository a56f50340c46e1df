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
SAM_UNUSED_PARAMETER = GOOD_SAM.replace("Resources:\n", "Parameters:\n  Unused:\n    Type: String\nResources:\n")
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
    "unused-parameter": _template(SAM_UNUSED_PARAMETER, "yaml", 40),
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
