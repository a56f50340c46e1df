"""Code and IaC files are documents: templates cited at their own lines, described by what they define."""

from __future__ import annotations

import itertools
from pathlib import Path

from ingest import code
from ingest.chunk import Chunker, ChunkLimits
from ingest.load import Selection, load_documents
from ingest.markdown import parse_sections
from tests.conftest import FIXTURES
from tests.fakes import HashingEmbedder

REPO = FIXTURES / "repo"


def test_a_repository_yields_its_readmes_templates_and_handlers_only() -> None:
    loaded = load_documents([REPO], 5_000_000)
    kinds = {d.source: d.kind for d in loaded.documents}
    assert kinds == {"README.md": "other", "orders-queue/README.md": "other", "image-resizer/README.md": "other",
                     "nightly-report/README.md": "other", "orders-queue/template.yaml": "code",
                     "orders-queue/src/handler.py": "code", "image-resizer/main.tf": "code",
                     "image-resizer/handler.ts": "code", "nightly-report/report.asl.json": "code"}
    assert not loaded.skipped, "package.json, ci.yml, node_modules/ and .kbignore'd scratch/ are not knowledge"
    assert dict(loaded.left_out) == {"dependency or build folder (node_modules, build, cdk.out, ...)": 1,
                                     ".kbignore, .gitignore, lock or minified file": 2,
                                     "YAML or JSON that is not a template or state machine": 1}


def test_a_template_is_described_by_what_it_defines() -> None:
    doc = next(d for d in load_documents([REPO], 5_000_000).documents if d.source == "orders-queue/template.yaml")
    assert "AWS::SQS::Queue, AWS::Serverless::Function" in doc.body
    assert "consumer that reports partial batch failures" in doc.body, "the template's own Description"
    machine = (REPO / "nightly-report" / "report.asl.json").read_text()
    assert "lambda:invoke, sns:publish" in " ".join(code.facts(machine, "json"))
    assert code.code_language("ci.yml", (REPO / "nightly-report" / "ci.yml").read_text()) is None


def test_each_part_is_a_template_cited_at_the_files_own_lines() -> None:
    doc = next(d for d in load_documents([REPO], 5_000_000).documents if d.source == "orders-queue/template.yaml")
    chunks = Chunker(HashingEmbedder().count_tokens, ChunkLimits(256, 200, 3)).chunk(doc, parse_sections(doc.body))
    (template,) = [c for c in chunks if c.kind == "template"]
    assert template.origin == "orders-queue/template.yaml" and (template.start_line, template.end_line) == (1, 28)
    assert template.text == (REPO / "orders-queue" / "template.yaml").read_text().rstrip("\n")
    assert template.language == "yaml"


def test_a_long_file_is_cut_only_between_top_level_blocks(tmp_path: Path) -> None:
    functions = "\n\n".join(f"def step_{i}(event):\n" + "\n".join(f"    x{j} = {j}" for j in range(12))
                            + "\n    return event" for i in range(20))
    ranges = code.parts(functions, "python")
    lines = functions.split("\n")
    assert len(ranges) > 1 and ranges[0][0] == 1 and ranges[-1][1] == len(lines)
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert start == end + 1 and lines[start - 1].startswith("def "), "a part starts at a top-level def"


def test_include_and_exclude_globs_choose_the_files() -> None:
    loaded = load_documents([REPO], 5_000_000, selection=Selection(exclude=("*.tf", "nightly-report/**")))
    sources = {d.source for d in loaded.documents}
    assert "image-resizer/main.tf" not in sources and not any(s.startswith("nightly-report/") for s in sources)
    assert "orders-queue/template.yaml" in sources
    assert loaded.left_out["matched --exclude / KB_EXCLUDE"] == 4, "main.tf and nightly-report/ (README, ci.yml, ASL)"
    only = load_documents([REPO], 5_000_000, selection=Selection(include=("orders-queue/**",)))
    assert {d.source for d in only.documents} == {"orders-queue/README.md", "orders-queue/template.yaml",
                                                 "orders-queue/src/handler.py"}
    assert only.left_out["not matched by --include / KB_INCLUDE"] >= 6
