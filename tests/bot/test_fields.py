"""Field-weighted BM25 over documents."""

from __future__ import annotations

from bot.fields import FieldIndex
from bot.text import terms

DOCS = [
    {"title": terms("SNS to SQS fan-out"), "tags": terms("sns sqs consumer"), "headings": terms("SQS consumer")},
    {"title": terms("Idempotent handlers with idempotency keys"), "tags": terms("idempotency retries"),
     "headings": terms("Choosing the key")},
]
WEIGHTS = {"title": 3.0, "tags": 2.0, "headings": 1.0}


def test_a_title_word_outweighs_the_same_word_in_a_heading() -> None:
    index = FieldIndex.of([{"title": ["queue"]}, {"headings": ["queue"]}], {"title": 3.0, "headings": 1.0})
    scores = index.scores(["queue"])
    assert scores[0] > scores[1] > 0


def test_the_rarest_word_names_the_topic() -> None:
    rarity = {"sqs": 1.9, "consum": 2.1, "idempot": 2.5}
    index = FieldIndex.of(DOCS, WEIGHTS, rarity)
    query = terms("How do I make an SQS consumer idempotent?")
    assert index.key_term(query) == "idempot", "stemming meets idempotent and idempotency"
    plain = index.scores(query)
    boosted = index.scores(query, {"idempot": 2.0})
    assert plain[0] > plain[1], "two context words beat one topic word in plain BM25F"
    assert boosted[1] > boosted[0], "the key term decides the topic"


def test_unknown_terms_score_nothing() -> None:
    assert not FieldIndex.of(DOCS, WEIGHTS).scores(["kubernet"]).any()
