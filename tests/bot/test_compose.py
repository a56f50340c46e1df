"""Composer invariants, property-tested on synthetic corpora (no model, no index)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.compose import Composer, evidence_positions, fence, tidy, with_lead_first
from bot.corpus import Corpus, Sentence
from bot.persona import Persona
from bot.retrieve import Hit, Retrieval
from bot.shape import classify
from core.settings import AnswerSettings
from core.text_units import sentence_spans
from ingest.schema import PersonaFrontMatter
from tests.fakes import HashingEmbedder

WORDS = ["queue", "retry", "lambda", "cost", "iam", "policy", "table", "jitter", "alarm", "cold", "start",
         "timeout", "hipaa", "cache", "region", "backup", "token", "stream"]
PERSONA = Persona(PersonaFrontMatter.model_validate({
    "id": "p", "title": "P", "kind": "persona", "scope": ["x"],
    "disclaimers": {"general": "General text here.", "security": "Security text here.",
                    "compliance": "Compliance text here.", "cost": "Cost text here.",
                    "production": "Production text here."},
    "disclaimer_triggers": {"security": ["iam"], "compliance": ["hipaa"], "cost": ["cost"],
                            "production": ["production"]},
}))
EMBEDDER = HashingEmbedder()

sentence_text = st.lists(st.sampled_from(WORDS), min_size=4, max_size=12).map(
    lambda ws: " ".join(ws).capitalize() + ".")
prose_text = st.lists(sentence_text, min_size=1, max_size=5).map(" ".join)
code_text = st.lists(st.sampled_from(["a: 1", "b: [x, y]", "```", "  c: !Ref X", "# comment"]),
                     min_size=3, max_size=8).map("\n".join)


@st.composite
def corpora(draw: Any) -> tuple[Corpus, Retrieval, str]:
    prose = draw(st.lists(prose_text, min_size=1, max_size=6))
    ids, texts, metas = [], [], []
    for i, text in enumerate(prose):
        ids.append(f"p{i}")
        texts.append(f"{text} Row p{i}.")  # unique texts, so a citation names its chunk
        metas.append({"kind": "prose", "source": f"s{i % 3}.md", "title": f"T{i % 3}", "section": f"T{i % 3} > S{i}",
                      "anchor": f"s{i}", "start_line": i + 1, "end_line": i + 2, "language": "", "parent_id": ""})
    for j, code in enumerate(draw(st.lists(code_text, max_size=3))):
        parent = draw(st.integers(0, len(prose) - 1))
        ids.append(f"t{j}")
        texts.append(f"{code}\n# t{j}")
        metas.append({**metas[parent], "kind": "template", "language": "yaml", "parent_id": f"p{parent}"})
    sentences = [Sentence(row, a, b, texts[row][a:b]) for row in range(len(prose))
                 for a, b in sentence_spans(texts[row])]
    corpus = Corpus(ids, texts, metas, EMBEDDER.embed(texts), sentences,
                    EMBEDDER.embed([s.text for s in sentences]) if sentences else EMBEDDER.embed(["x"])[:0],
                    "fp")
    rows = draw(st.lists(st.integers(0, len(ids) - 1), min_size=1, max_size=len(ids), unique=True))
    hits = [Hit(row, 1.0 / (61 + rank), 0.5, 1.0, rank) for rank, row in enumerate(rows)]
    question = " ".join(draw(st.lists(st.sampled_from([*WORDS, "template", "example"]), min_size=1, max_size=6)))
    return corpus, Retrieval(question, EMBEDDER.embed([question])[0], hits), question


@settings(max_examples=150, deadline=None)
@given(corpora())
def test_citation_numbering_invariants(case: tuple[Corpus, Retrieval, str]) -> None:
    corpus, retrieval, question = case
    answer = Composer(corpus, PERSONA, AnswerSettings()).compose(question, retrieval)
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    used_in_points = [int(n) for p in answer.points for n in re.findall(r"\[(\d+)\]$", p)]
    assert len(used_in_points) == len(answer.points), "every point ends with one citation"
    assert set(used_in_points) | {t.n for t in answer.templates} == set(numbers), "every citation is used"
    assert used_in_points == sorted(used_in_points), "points follow the evidence order"
    lead = Composer(corpus, PERSONA, AnswerSettings()).lead(retrieval, classify(question), question)
    evidence = with_lead_first(retrieval, lead)
    position = evidence_positions(evidence)
    ranks = [position[next(h.row for h in evidence.hits if corpus.texts[h.row] == c.text)] for c in answer.citations]
    assert ranks == sorted(ranks), "citations are numbered in evidence order"
    if answer.points:
        assert lead is not None and answer.points[0].endswith("[1]")
        assert corpus.texts[lead.row] == answer.citations[0].text, "[1] is the best quotable evidence"

    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert cited <= set(numbers), "every [n] resolves"
    assert len(answer.points) <= 6


@settings(max_examples=100, deadline=None)
@given(corpora())
def test_templates_are_verbatim_and_render_whole(case: tuple[Corpus, Retrieval, str]) -> None:
    corpus, retrieval, question = case
    answer = Composer(corpus, PERSONA, AnswerSettings()).compose(question, retrieval)
    for template in answer.templates:
        citation = answer.citations[template.n - 1]
        stored = {text for text, meta in zip(corpus.texts, corpus.metas, strict=True) if meta["kind"] == "template"}
        assert template.code in stored, "attached exactly as stored, never edited"
        assert citation.kind == "template" and citation.text == template.code
        assert fence(template.code, template.language) in answer.answer


@settings(max_examples=100, deadline=None)
@given(corpora())
def test_disclaimer_is_always_present_with_topic_lines(case: tuple[Corpus, Retrieval, str]) -> None:
    corpus, retrieval, question = case
    answer = Composer(corpus, PERSONA, AnswerSettings()).compose(question, retrieval)
    assert answer.disclaimer.startswith("General text here.")
    evidence = " ".join([question, *answer.points]).lower()
    assert ("Cost text here." in answer.disclaimer) == ("cost" in evidence.split() or "cost." in evidence)


def test_tidy_removes_markup_and_dangling_colons() -> None:
    assert tidy("- **Retry budget**: keep it small:") == "Retry budget: keep it small."
    assert tidy("1. use *full* jitter [3] and [docs](http://x.example/y)") == "Use full jitter and docs."
    assert tidy("  `aws lambda` works  ") == "`aws lambda` works."
    assert tidy("> Read more about batch failure reporting") == "Read more about batch failure reporting."


def test_fence_is_longer_than_backticks_inside() -> None:
    code = "```\nnested\n```"
    assert fence(code, "markdown").startswith("````markdown\n")
