"""YAML aliases are counted, not expanded: a bomb is refused in milliseconds, real files pass."""

from __future__ import annotations

import time

from ingest.yaml_guard import expansion_problem
from tests.conftest import FIXTURES


def test_a_billion_laughs_is_refused_without_expanding_it() -> None:
    started = time.perf_counter()
    problem = expansion_problem((FIXTURES / "bad" / "billion-laughs.yaml").read_text())
    assert "926,177,1" in problem and "billion laughs" in problem
    assert time.perf_counter() - started < 1.0


def test_ordinary_anchors_and_cloudformation_tags_pass() -> None:
    template = ("defaults: &defaults\n  Runtime: python3.12\n  Timeout: 30\nResources:\n  Fn:\n"
                "    Type: AWS::Serverless::Function\n    Properties:\n      <<: *defaults\n"
                "      Role: !GetAtt Role.Arn\n      Queue: !Ref Queue\n")
    assert expansion_problem(template) == ""
    assert expansion_problem("no: anchors\nhere: [1, 2]\n") == ""
    assert expansion_problem("broken: [unclosed\n  &a") == "", "invalid YAML is not a bomb; it stays text"


def test_the_limit_is_on_expanded_nodes() -> None:
    text = "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n"
    assert expansion_problem(text, limit=20_000) == ""
    assert "over the 5,000 limit" in expansion_problem(text, limit=5_000)


def test_self_reference_and_deep_nesting_are_refused() -> None:
    assert "nested too deeply" in expansion_problem("a: &a [1, *a]\n")
    assert "nested too deeply" in expansion_problem("x: &a " + "[" * 20_000 + "]" * 20_000 + "\n")
