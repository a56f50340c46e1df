"""Table rows read out as sentences with their headers."""

from __future__ import annotations

from bot.tables import parse_table, row_sentences

LIMITS = """| Setting | Limit | Adjustable |
|---|---|---|
| **Timeout** | 1 to 900 seconds | No |
| Memory | 128 to 10,240 MB | No |
| Escaped \\| pipe | [docs](http://x.example) | Yes |"""


def test_rows_carry_their_headers_and_the_section() -> None:
    sentences = row_sentences(LIMITS, "Key limits")
    assert sentences[0] == "Timeout: Limit 1 to 900 seconds; Adjustable No (Key limits)."
    assert sentences[2].startswith("Escaped | pipe: Limit docs;"), "escaped pipes stay in the cell; links become text"


def test_two_column_tables_read_as_name_and_value() -> None:
    assert row_sentences("| Limit | Value |\n|---|---|\n| Lambda timeout | 1 to 900 seconds |", "Key limits") == [
        "Lambda timeout: 1 to 900 seconds (Key limits)."]


def test_text_that_is_not_a_table_has_no_rows() -> None:
    assert parse_table("just | a line\nand another") == ([], [])
    assert row_sentences("| a | b |\n|---|---|", "x") == []
