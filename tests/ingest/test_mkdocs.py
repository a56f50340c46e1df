"""mkdocs-material pages: admonitions and tabs read as text, snippet includes become templates."""

from __future__ import annotations

import shutil

from ingest.chunk import Chunker, ChunkLimits
from ingest.load import load_document
from ingest.markdown import parse_sections
from ingest.mkdocs import is_mkdocs, normalize, snippet_paths
from tests.conftest import FIXTURES
from tests.fakes import HashingEmbedder

MKDOCS = FIXTURES / "mkdocs"


def test_normalize_keeps_every_line_and_unwraps_containers() -> None:
    text = (MKDOCS / "docs" / "retries.md").read_text()
    out = normalize(text)
    assert is_mkdocs(text)
    assert out.count("\n") == text.count("\n"), "line numbers stay true"
    lines = out.split("\n")
    assert "**Warning: Mind the budget**" in lines
    assert "Retries multiply load on the downstream service; cap them at three attempts." in lines
    assert "**handler.py**" in lines and "```python hl_lines=\"2\"" in lines
    assert "Backoff grows exponentially between attempts." in lines, "inline HTML is reduced to its text"
    assert "maintainers" not in out, "HTML comments are dropped"
    assert "{target" not in out, "attribute lists are dropped"


def test_snippet_paths_only_for_fences_made_of_includes() -> None:
    assert snippet_paths('--8<-- "a/b.py"\n---8<-- "c.yaml"') == ["a/b.py", "c.yaml"]
    assert snippet_paths('--8<-- "a/b.py"\nprint(1)') is None


def test_included_file_becomes_a_template_cited_at_its_own_lines(tmp_path: object) -> None:
    root = MKDOCS
    loaded, notices = load_document(root, root / "docs" / "retries.md", 1_000_000)
    assert not isinstance(loaded, type(None)) and hasattr(loaded, "includes")
    doc = loaded  # type: ignore[assignment]
    assert list(doc.includes) == ["examples/retry_handler.py"]  # type: ignore[union-attr]
    assert any("missing_template.yaml" in str(n) and "not found" in str(n) for n in notices)
    chunks = Chunker(HashingEmbedder().count_tokens, ChunkLimits(256, 200, 3)).chunk(
        doc, parse_sections(doc.body))  # type: ignore[arg-type, union-attr]
    templates = [c for c in chunks if c.kind == "template"]
    assert len(templates) == 1
    template = templates[0]
    source_lines = (root / "examples" / "retry_handler.py").read_text().rstrip("\n").split("\n")
    assert template.origin == "examples/retry_handler.py"
    assert template.language == "python"
    assert (template.start_line, template.end_line) == (1, len(source_lines))
    assert template.text == "\n".join(source_lines)
    assert template.section.endswith("Getting started")
    parent = next(c for c in chunks if c.id == template.parent_id)
    assert "Wrap a flaky downstream call" in parent.text, "the template travels with the section that includes it"


def test_changing_an_included_file_changes_the_document_hash(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path)) / "site"
    shutil.copytree(MKDOCS, root)
    before, _ = load_document(root, root / "docs" / "retries.md", 1_000_000)
    (root / "examples" / "retry_handler.py").write_text("# changed\nprint(1)\nprint(2)\n")
    after, _ = load_document(root, root / "docs" / "retries.md", 1_000_000)
    assert before.content_hash != after.content_hash  # type: ignore[union-attr]


def test_an_admonition_title_is_cleaned_like_prose() -> None:
    """A title may carry a link with an attribute list and inline HTML; they must not reach the answer."""
    text = ('!!! note "Tracing relies on [the X-Ray SDK](https://example.com/xray){target="_blank" rel="nofollow"} '
            'for a <b>fast</b> cold start."\n    Body text.\n')
    lines = normalize(text).split("\n")
    assert lines[0] == "**Note: Tracing relies on [the X-Ray SDK](https://example.com/xray) for a fast cold start.**"
    assert lines[1] == "Body text."
