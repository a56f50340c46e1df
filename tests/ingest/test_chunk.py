from __future__ import annotations

from pathlib import Path

import pytest

from core.providers import providers_in
from ingest.chunk import Chunker, ChunkLimits, slug
from ingest.clean import load_rules, remove_non_knowledge
from ingest.language import detect
from ingest.load import load_documents
from ingest.markdown import parse_sections
from ingest.records import Chunk, Document
from tests.conftest import FIXTURES, ROOT
from tests.fakes import HashingEmbedder

DOCS = FIXTURES / "docs"
LIMITS = ChunkLimits(max_tokens=64, target_tokens=48, min_template_lines=3)


def _doc(name: str) -> Document:
    return next(d for d in load_documents([DOCS], 100_000).documents if d.source == name)


def _chunks(name: str, limits: ChunkLimits = LIMITS) -> list[Chunk]:
    doc = _doc(name)
    cleaned = remove_non_knowledge(doc.source, parse_sections(doc.body), load_rules(ROOT / "kb/exclude.yaml"))
    return Chunker(HashingEmbedder().count_tokens, limits).chunk(doc, cleaned.sections)


def test_code_comments_are_not_headings_and_code_stays_whole() -> None:
    chunks = _chunks("code-comments.md")
    sections = {c.section for c in chunks}
    assert sections == {"Deploying with SAM > Template", "Deploying with SAM > After the template"}
    templates = [c for c in chunks if c.kind == "template"]
    assert [t.language for t in templates] == ["yaml", "python"]
    source = (DOCS / "code-comments.md").read_text().split("\n")
    for template in templates:
        fenced = "\n".join(source[template.start_line : template.end_line - 1])
        assert template.text == fenced, "templates are verbatim"
    assert templates[0].text.startswith("# Globals apply")


def test_template_links_to_its_section_prose() -> None:
    chunks = _chunks("code-comments.md")
    by_id = {c.id: c for c in chunks}
    for template in (c for c in chunks if c.kind == "template"):
        parent = by_id[template.parent_id]
        assert parent.kind == "prose" and parent.section == template.section


def test_tables_stay_whole() -> None:
    tables = [c for c in _chunks("table.md") if c.kind == "table"]
    assert len(tables) == 1
    assert tables[0].text.count("\n") == 4 and "| Java | 1-3 s | use SnapStart |" in tables[0].text


def test_huge_section_splits_at_item_and_sentence_boundaries_within_the_limit() -> None:
    chunks = _chunks("huge-section.md")
    counter = HashingEmbedder().count_tokens
    assert len(chunks) > 10
    assert max(counter([c.embed_text for c in chunks])) <= LIMITS.max_tokens
    assert all(c.text.strip() for c in chunks)
    for chunk in chunks:
        first = chunk.text.lstrip()
        assert first.startswith(("- Retry rule", "Sentence")), "split only at bullet or sentence starts"
    joined = " ".join(c.text for c in chunks)
    assert all(f"Retry rule {i}:" in joined for i in range(60)), "nothing is lost"


def test_a_run_on_sentence_is_split_by_words() -> None:
    doc = Document("run-on.md", DOCS, "Run on", "other", "# Run on\n\n" + "word " * 300)
    chunks = Chunker(HashingEmbedder().count_tokens, LIMITS).chunk(doc, parse_sections(doc.body))
    assert len(chunks) >= 5
    assert sum(c.text.count("word") for c in chunks) == 300


def test_metadata_heading_path_lines_anchor_and_stable_ids() -> None:
    first = _chunks("table.md")
    again = _chunks("table.md")
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    prose = next(c for c in first if c.kind == "prose")
    assert prose.section == "Runtime comparison > Cold starts"
    assert prose.anchor == "cold-starts"
    assert prose.embed_text.startswith("Runtime comparison > Cold starts\n")
    assert (prose.start_line, prose.end_line) == (11, 11)


def test_exclusion_rules_drop_agent_sections_and_paragraphs() -> None:
    doc = _doc("agent.md")
    cleaned = remove_non_knowledge(doc.source, parse_sections(doc.body), load_rules(ROOT / "kb/exclude.yaml"))
    kept_text = "\n".join(s.own_text for s in cleaned.sections)
    assert "Cache API Gateway responses" in kept_text
    assert "Co-Authored-By" not in kept_text and "More instructions" not in kept_text
    assert "Poll for quests" not in kept_text and "You are a serverless" not in kept_text
    assert {e.rule for e in cleaned.exclusions} == {"commit-attribution", "quest-protocol", "agent-address"}


def test_malformed_rules_file_is_a_clear_error(tmp_path: Path) -> None:
    from core.errors import RulesError

    bad = tmp_path / "exclude.yaml"
    bad.write_text("rules:\n  - id: x\n    reason: y\n    heading: '(unclosed'\n")
    with pytest.raises(RulesError, match=r"exclude.yaml: rules.0.heading"):
        load_rules(bad)


@pytest.mark.parametrize(("code", "language"), [
    ('{"StartAt": "A", "States": {}}', "json"),
    ("Resources:\n  Fn:\n    Type: AWS::Serverless::Function", "yaml"),
    ('resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}', "hcl"),
    ("import boto3\n\ndef handler(event, context):\n    return {}", "python"),
    ("export const handler = async (event: unknown): Promise<void> => {};", "typescript"),
    ("const AWS = require('aws-sdk');\nmodule.exports.handler = async () => {};", "javascript"),
    ("aws lambda invoke --function-name f out.json", "bash"),
])
def test_language_detection(code: str, language: str) -> None:
    assert detect(code) == language


def test_providers_and_slugs() -> None:
    assert providers_in("Use DynamoDB or Cosmos DB; Cloud Run too") == ("aws", "gcp", "azure")
    assert slug("When to use / when not to") == "when-to-use--when-not-to"


def test_each_text_is_tokenized_once_per_section() -> None:
    """Fitting and packing (and splitting a run-on sentence by words) ask for the same counts."""
    seen: list[str] = []

    def counting(texts: list[str]) -> list[int]:
        seen.extend(texts)
        return HashingEmbedder().count_tokens(texts)

    doc = _doc("huge-section.md")
    chunks = Chunker(counting, LIMITS).chunk(doc, parse_sections(doc.body))
    assert chunks == Chunker(HashingEmbedder().count_tokens, LIMITS).chunk(doc, parse_sections(doc.body))
    run_on = Document("run-on.md", DOCS, "Run on", "other", "# Run on\n\n" + "word " * 300)
    Chunker(counting, LIMITS).chunk(run_on, parse_sections(run_on.body))
    assert len(seen) == len(set(seen)), "a text was tokenized twice"
