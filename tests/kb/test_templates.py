"""Every fenced code block in kb/**/*.md parses, lints and (for CloudFormation) passes cfn-lint.

A failure names the block as `kb/patterns/<category>/<id>.md:LINE (language)` and lists each problem
at its file line. cfn-lint runs once per session over all CloudFormation/SAM blocks.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pytest

from tests.kb import template_checks as tc

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ROOT / "kb" / "patterns"
TEMPLATES = tc.collect_templates(ROOT) if PATTERNS.is_dir() else []
MIN_PATTERN_TEMPLATES = 25
NO_KB = "kb/patterns is absent: no knowledge-base templates to validate"


class TemplateLintWarning(UserWarning):
    """A cfn-lint warning: reported in the warnings summary, never a failure."""


@pytest.fixture(scope="session")
def cfn_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tc.CfnFinding]]:
    sources = {}
    for template in TEMPLATES:
        suffix = tc.cfn_suffix(template)
        if suffix is not None:
            sources[template.label] = (template.code, suffix)
    try:
        return tc.lint_cfn(sources, tmp_path_factory.mktemp("cfn-templates"))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:  # fail the CFN templates only
        failure = [tc.CfnFinding("cfn-lint", "Error", 0, f"cfn-lint could not run: {error}")]
        return {key: failure for key in sources}


def _params() -> list[object]:
    if not PATTERNS.is_dir():
        return [pytest.param(None, id="no-kb", marks=pytest.mark.skip(reason=NO_KB))]
    return [pytest.param(template, id=template.label) for template in TEMPLATES]


@pytest.mark.parametrize("template", _params())
def test_template(template: tc.Template, request: pytest.FixtureRequest) -> None:
    # cfn-lint runs (once) only when a YAML/JSON template is among the selected tests.
    needs_cfn = template.language in {"yaml", "json"}
    outcome = tc.check_template(template, request.getfixturevalue("cfn_findings") if needs_cfn else {})
    for text in outcome.warnings:
        warnings.warn(TemplateLintWarning(text), stacklevel=1)
    if outcome.skip_reason:
        pytest.skip(f"{template.label}: {outcome.skip_reason}")
    if outcome.errors:
        pytest.fail("\n".join([f"{template.label} is invalid:", *outcome.errors]), pytrace=False)


def test_patterns_hold_enough_templates() -> None:
    if not PATTERNS.is_dir():
        pytest.skip(NO_KB)
    count = sum(1 for t in TEMPLATES if t.path.startswith("kb/patterns/") and tc.is_template(t))
    assert count >= MIN_PATTERN_TEMPLATES, (
        f"kb/patterns holds {count} templates (fences of 3+ non-blank lines); "
        f"expected at least {MIN_PATTERN_TEMPLATES}")


def test_every_fence_names_a_language() -> None:
    if not PATTERNS.is_dir():
        pytest.skip(NO_KB)
    unnamed = [f"{t.path}:{t.line}" for t in TEMPLATES if not t.language]
    assert not unnamed, "fenced blocks without a language:\n" + "\n".join(unnamed)
