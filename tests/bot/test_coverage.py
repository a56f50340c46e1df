"""Saying what the knowledge base does not cover: unknown names and a key concept missing from the sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer import Answer, Citation
from bot.corpus import bm25_index
from bot.scope import coverage, coverage_gap, evidence, is_context, judge, unknown_names, with_coverage_note
from core.settings import AnswerSettings
from tests.bot.test_lead import CORPUS, _corpus, _retrieval


def _with_bm25(tmp_path: Path) -> None:
    CORPUS.bm25 = bm25_index(CORPUS, tmp_path)


def _rows(*sections: str) -> list[int]:
    """The evidence rows of these sections."""
    return [next(i for i, m in enumerate(CORPUS.metas) if m["section"] == s) for s in sections]


def _answer(*sections: str) -> Answer:
    rows = [CORPUS.metas.index(next(m for m in CORPUS.metas if m["section"] == s)) for s in sections]
    citations = [Citation(n=i + 1, source=CORPUS.metas[r]["source"], title=CORPUS.metas[r]["title"],
                          section=CORPUS.metas[r]["section"], anchor="a", start_line=1, end_line=2, score=1.0,
                          text=CORPUS.texts[r]) for i, r in enumerate(rows)]
    return Answer(question="q", answer="- point [1]", abstained=False, citations=citations, disclaimer="d",
                  points=["point [1]"])


def test_names_the_corpus_never_mentions(tmp_path: Path) -> None:
    _with_bm25(tmp_path)
    assert unknown_names("How do I wire Middy into my Queues consumer?", CORPUS) == ["Middy"]
    assert unknown_names("Queues: how do I set maxReceiveCount?", CORPUS) == [], "known words and a leading word"
    assert unknown_names("configure the aspectj-maven-plugin for queues", CORPUS) == ["aspectj-maven-plugin"]


def test_a_name_used_inside_an_identifier_is_known(tmp_path: Path) -> None:
    _with_bm25(tmp_path)
    assert unknown_names("Where does the ReceiveCount come from?", CORPUS) == [], "inside maxReceiveCount"
    assert unknown_names("Is Receive enough?", CORPUS) == ["Receive"], "too short to count inside a word"


def test_a_name_that_sets_the_scene_is_not_what_is_asked() -> None:
    assert is_context("SPA", "right now our SPA sends the tenant id; where should the function read it?")
    assert is_context("React", "My React app gets a CORS error"), "the asker's own system"
    assert is_context("ASL", "write the state machine definition (ASL) for our order flow"), "an abbreviation"
    assert is_context("York", "run it every night at 2am New York time"), "a place naming a time zone"
    assert not is_context("Middy", "How do I register the Logger as a Middy middleware?")
    assert not is_context("wrangler.toml", "what goes in wrangler.toml to add a cron trigger?")
    assert not is_context("SPA", "how do I host a SPA?")


def test_a_file_name_is_a_name(tmp_path: Path) -> None:
    _with_bm25(tmp_path)
    assert unknown_names("what goes in wrangler.toml for queues?", CORPUS) == ["wrangler.toml"]


def test_a_key_concept_missing_from_the_cited_sources_is_said(tmp_path: Path) -> None:
    _with_bm25(tmp_path)
    gap = coverage_gap("Which Lambda settings matter for queues?", _rows("Queues > Overview"), CORPUS, ())
    assert 'do not mention "lambda"' in gap, "a topic word (a title) missing from the cited sources"
    assert coverage_gap("Which Lambda settings matter for queues?", _rows("Lambda > Key limits", "Queues > Overview"),
                        CORPUS, ()) == ""
    assert coverage_gap("Why do queues sometimes stall overnight?", _rows("Queues > Overview"), CORPUS, ()) == "", \
        "rare everyday words are not topics"
    assert coverage_gap("Which Lambda settings matter for queues?", _rows("Queues > Overview"), CORPUS, (),
                        closeness=0.7) == "", "a source this close answered the question without the word"
    assert '"azure"' in coverage_gap("And on Azure?", _rows("Queues > Overview"), CORPUS, ()), "a provider named"
    named = coverage_gap("Does Middy retry queues?", _rows("Queues > Overview"), CORPUS, ("Middy",))
    assert named.startswith("The knowledge base does not mention Middy")


def test_the_note_leads_the_markdown_answer() -> None:
    noted = with_coverage_note(_answer("Queues > Overview"), "Not covered: cron.")
    assert noted.coverage_note == "Not covered: cron." and noted.answer.startswith("_Not covered: cron._\n\n")
    assert with_coverage_note(_answer("Queues > Overview"), "").coverage_note == ""


def test_a_provider_is_covered_by_sources_about_it_whatever_their_words() -> None:
    corpus = _corpus([("run", "prose", "Cloud Run jobs > Solution", "Cloud Run jobs run a container to completion "
                                                                    "for up to 24 hours per task.")])
    corpus.metas[0]["providers"] = ["gcp"]
    assert coverage_gap("what about on GCP?", [0], corpus, ()) == "", "the source's providers say GCP"
    assert '"azure"' in coverage_gap("what about on Azure?", [0], corpus, ())


def test_a_name_that_sets_the_scene_gets_no_note(tmp_path: Path) -> None:
    _with_bm25(tmp_path)
    settings = AnswerSettings(min_evidence=0.0)
    scene = "our SPA retries failed messages; how do queues handle that?"
    verdict = judge(scene, _retrieval(CORPUS, scene, ["overview"]), CORPUS, settings)
    assert verdict.answer and verdict.unknown == (), "the asker's own system is not what is asked"
    subject = "do Middy queues retry failed messages?"
    assert judge(subject, _retrieval(CORPUS, subject, ["overview"]), CORPUS, settings).unknown == ("Middy",)


def test_evidence_counts_the_closest_sentence_of_a_long_section() -> None:
    """A chatty question meets one sentence of a long section better than the section as a whole."""
    question = "Alarm when the dead-letter queue depth is above zero."
    retrieval = _retrieval(CORPUS, question, ["dlq"])  # a weak chunk-level match (dense 0.5)
    settings = AnswerSettings()
    words_found = coverage(question, retrieval, CORPUS, settings.coverage_depth)
    expected = settings.dense_weight * 1.0 + (1 - settings.dense_weight) * words_found  # the sentence itself
    assert evidence(question, retrieval, CORPUS, settings) == pytest.approx(expected, abs=1e-3)
