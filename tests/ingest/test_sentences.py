from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from ingest.sentences import sentence_spans


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
