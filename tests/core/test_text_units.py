from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from core.text_units import (
    CITATION,
    is_quotable,
    sentence_spans,
    split_claims,
    split_sentences,
    step_number,
    strip_bold,
    strip_bullet,
    strip_citations,
    strip_links,
)
from tests.conftest import ROOT


def test_bullets_and_sentences_become_units() -> None:
    text = ("Use queues to absorb spikes in traffic. Add full jitter so that clients do not retry in lockstep.\n\n"
            "- **Retry budget**: limit retries to three attempts\n  then park the message in a DLQ.\n"
            "| a | b |\n# comment-like heading line\nok.")
    units = [text[a:b] for a, b in sentence_spans(text)]
    assert units == ["Use queues to absorb spikes in traffic.",
                     "Add full jitter so that clients do not retry in lockstep.",
                     "- **Retry budget**: limit retries to three attempts\n  then park the message in a DLQ."]


@given(st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")) | st.just("\n"),
               max_size=400))
def test_spans_are_ordered_trimmed_and_inside_the_text(text: str) -> None:
    spans = sentence_spans(text)
    for a, b in spans:
        assert 0 <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start


def test_a_capital_before_the_stop_keeps_two_sentences_one_unit_for_everyone() -> None:
    # "SQS." does not end a sentence (an upper-case letter before the stop, as in "U.S."); every user of
    # the rule (stored spans, the chunker's fallback, the LLM claims, the renderer) sees one unit.
    text = "Send failures to SQS. Then alarm on its depth."
    assert [text[a:b] for a, b in sentence_spans(text)] == [text]
    assert split_sentences(text) == [text]
    assert split_claims(text + " [1]") == [text + " [1]"]


def test_units_need_four_words_and_claims_end_at_markers() -> None:
    assert not is_quotable("Use a DLQ.") and is_quotable("Use a DLQ always.")
    assert sentence_spans("Too short here. This one is long enough.") == [(16, 40)]
    assert split_claims("- Retries back off [1] Then park it in a DLQ [2]\nAlarm on depth. Page someone [3]") == [
        "- Retries back off [1]", "Then park it in a DLQ [2]", "Alarm on depth.", "Page someone [3]"]


def test_markup_helpers() -> None:
    assert strip_links("see [the docs](http://x) and ![img](y.png)") == "see the docs and img"
    assert strip_citations("Use a DLQ [1] [12].") == "Use a DLQ." and strip_bold("**a** and __b__") == "a and b"
    assert strip_bullet("  12) step") == "step" and CITATION.findall("a [3] b [x] [4]") == ["3", "4"]
    assert strip_bullet("- [ ] DLQ configured") == "DLQ configured", "a task list's box is markup"
    assert strip_bullet("* [x] POC done") == "POC done" and strip_bullet("[x] not a list item") == "[x] not a list item"


def test_no_other_module_retypes_a_text_rule() -> None:
    rules = [r"[.!?])\s+", r"\d+[.)])", r"\s{0,3}", r"!?\[([^\]]*)\]\(", r"\[(\d+)\]", r"\[\d+\]", r"(\*\*|__)(.+?)\1"]
    found = [f"{path.relative_to(ROOT)}: {rule}" for package in ("ingest", "bot", "ui", "evals", "app")
             for path in (ROOT / package).rglob("*.py") for rule in rules if rule in path.read_text()]
    assert not found, found


def test_a_unit_that_opens_a_numbered_item_has_its_number_with_or_without_the_marker() -> None:
    text = ("An intro line that says something.\n1. Prefix every key with the tenant.\n"
            "  12) **Assume** the role per request. Then read with the session.\n- A bullet that is no step")
    first, second = text.index("Prefix"), text.index("**Assume")
    assert step_number(text, first) == 1 and step_number(text, text.index("1. ")) == 1
    assert step_number(text, second) == 12 and step_number(text, text.index("Assume")) == 12
    assert step_number(text, text.index("Then read")) is None  # the second sentence of the item
    assert step_number(text, text.index("A bullet")) is None and step_number(text, 0) is None
    assert [step_number(text, a) for a, _ in sentence_spans(text)] == [None, 1, 12, None, None]
