"""Table rows read out as sentences with their headers."""

from __future__ import annotations

from bot.tables import asked_extents, naming_rows, other_variants, parse_table, row_sentences
from bot.text import term_set

LIMITS = """| Setting | Limit | Adjustable |
|---|---|---|
| **Timeout** | 1 to 900 seconds | No |
| Memory | 128 to 10,240 MB | No |
| Escaped \\| pipe | [docs](http://x.example) | Yes |"""


def test_rows_carry_their_headers_and_the_section() -> None:
    sentences = row_sentences(LIMITS, "Key limits")
    assert sentences[0] == "Timeout: 1 to 900 seconds; Adjustable No (Key limits).", \
        "a first value under a header that only says 'the figure' (Limit, Value) goes unlabelled"
    assert row_sentences("| Service | Timeout | Notes |\n|---|---|---|\n| Lambda | 900 s | hard |", "")[0] == \
        "Lambda: Timeout 900 s; Notes hard.", "a header that names what the value is keeps its label"
    assert sentences[2].startswith("Escaped | pipe: docs;"), "escaped pipes stay in the cell; links become text"


def test_two_column_tables_read_as_name_and_value() -> None:
    assert row_sentences("| Limit | Value |\n|---|---|\n| Lambda timeout | 1 to 900 seconds |", "Key limits") == [
        "Lambda timeout: 1 to 900 seconds (Key limits)."]


def test_text_that_is_not_a_table_has_no_rows() -> None:
    assert parse_table("just | a line\nand another") == ([], [])
    assert row_sentences("| a | b |\n|---|---|", "x") == []


WORKFLOWS = """| Limit | Value | Notes |
|---|---|---|
| Maximum execution duration, Standard workflows | 1 year | Suits approvals that wait for days |
| Maximum execution duration, Express workflows | 5 minutes | Suits short event processing |
| Execution semantics, Standard workflows | Exactly once | Each state runs once |
| Execution history, Express workflows | CloudWatch Logs only | Not stored by the service |"""


def test_a_row_for_the_variant_not_asked_about_gives_way_to_its_sibling() -> None:
    express = term_set("can an express workflow wait two days for approvals?")
    assert other_variants(WORKFLOWS, express) == {0}, "semantics, Standard has no Express sibling: it stays"
    assert other_variants(WORKFLOWS, term_set("standard or express: how long can a run take?")) == set()
    assert other_variants(WORKFLOWS, term_set("how long can a workflow run?")) == set(), "no variant named"


def test_rows_of_two_attributes_are_not_variants_of_one() -> None:
    """"Execution semantics, Standard" and "Execution history, Express" share only "execution"."""
    semantics_and_history = "\n".join(WORKFLOWS.split("\n")[:2] + WORKFLOWS.split("\n")[4:])
    assert other_variants(semantics_and_history, term_set("express workflow history")) == set()


def test_a_question_asking_how_long_wants_the_rows_that_name_a_duration() -> None:
    extents = asked_extents("How long can a Standard workflow run?")
    assert naming_rows(WORKFLOWS, extents) == {0, 1}
    assert naming_rows(WORKFLOWS, asked_extents("What's the longest an execution can stay open?")) == {0, 1}
    assert asked_extents("Which workflow type suits approvals?") == frozenset(), "no extent asked for"
    assert naming_rows(WORKFLOWS, asked_extents("how big can the input be?")) == set(), "no row names a size"


def test_a_question_that_gives_how_long_its_work_takes_wants_the_duration_rows() -> None:
    """"Can an Express workflow wait for an approval? Approvals can take two days" is answered by
    the maximum duration, not by the start rate that shares more of its words."""
    for question in ("can an express state machine wait for an approval? approvals can take two days",
                     "Lambda or Fargate for a transcoding job that runs about 40 minutes?",
                     "each run takes 3 seconds: Standard or Express?"):
        assert naming_rows(WORKFLOWS, asked_extents(question)) == {0, 1}, question
    for question in ("Standard or Express for thousands of readings a second?", "which one takes approvals?"):
        assert not {"durat", "timeout"} & asked_extents(question), "a rate or a verb alone asks for no duration"


def test_a_question_about_volume_wants_the_rows_that_name_a_rate() -> None:
    rates = "| Limit | Value |\n|---|---|\n| Message size | 256 KB |\n| Send throughput | 300 per second |\n" \
            "| Execution start rate | 100,000 per second |"
    for question in ("standard or fifo? we push a lot of volume", "thousands of IoT readings a second",
                     "what throughput can a FIFO queue take?"):
        assert naming_rows(rates, asked_extents(question)) == {1, 2}, question
    assert asked_extents("how do I keep a second copy from starting?") == frozenset()
