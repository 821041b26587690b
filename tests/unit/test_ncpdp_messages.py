"""The AM21 message lines: 130-UF, then 132-UH / 526-FQ / 131-UG per line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adjudicator.ncpdp.messages import LINE_WIDTH, MAX_LINES, message_fields, wrap

pytestmark = pytest.mark.unit

FSA = "This benefit may not be submitted to an FSA, HSA or HRA for reimbursement."


def test_each_text_is_wrapped_at_spaces_with_its_continuity():
    fields = message_fields([FSA, "BENEFIT REMAINING 10500.00"])

    assert fields == [
        ("UF", "3"),
        ("UH", "01"), ("FQ", "This benefit may not be submitted to an"), ("UG", "+"),
        ("UH", "02"), ("FQ", "FSA, HSA or HRA for reimbursement."),
        ("UH", "03"), ("FQ", "BENEFIT REMAINING 10500.00"),
    ]  # fmt: skip


def test_a_line_may_hold_exactly_40_characters():
    assert wrap("a" * 40) == ["a" * 40]
    assert wrap("a" * 20 + " " + "b" * 19) == ["a" * 20 + " " + "b" * 19]
    assert wrap("a" * 20 + " " + "b" * 20) == ["a" * 20, "b" * 20]


def test_a_word_over_40_characters_is_cut():
    assert wrap("short " + "x" * 95 + " end") == ["short", "x" * 40, "x" * 40, "x" * 15 + " end"]


def test_no_text_no_fields():
    assert message_fields([]) == []
    assert message_fields(["", "   "]) == []


def test_at_most_25_lines_and_the_last_one_sent_does_not_continue():
    fields = message_fields(["word " * 400])

    assert fields[0] == ("UF", "25")
    assert [value for name, value in fields if name == "UH"] == [f"{n:02d}" for n in range(1, 26)]
    assert fields[-1][0] == "FQ"
    assert len([name for name, _ in fields if name == "UG"]) == 24


def test_what_a_field_cannot_carry_becomes_a_space_or_a_question_mark():
    assert wrap("CARD\x1cHOLDER\tNOT\nFOUND — é") == ["CARD HOLDER NOT FOUND ? ?"]


texts = st.lists(st.text(max_size=300), max_size=6)


@given(texts)
def test_the_fields_always_follow_the_d0_layout(given_texts):
    fields = message_fields(given_texts)
    if not fields:
        return
    count = int(fields[0][1])
    assert fields[0][0] == "UF" and 1 <= count <= MAX_LINES
    lines = [value for name, value in fields if name == "FQ"]
    assert len(lines) == count
    assert all(0 < len(line) <= LINE_WIDTH and line.isascii() for line in lines)
    assert [value for name, value in fields if name == "UH"] == [
        f"{n:02d}" for n in range(1, count + 1)
    ]
    # Each line is UH then FQ, then UG only as `+`.
    names = [name for name, _ in fields[1:]]
    assert all(names[i] == "UH" and names[i + 1] == "FQ" for i, n in enumerate(names) if n == "UH")
    assert all(value == "+" for name, value in fields if name == "UG")


@given(st.lists(st.from_regex(r"[A-Za-z0-9.,]{1,60}", fullmatch=True), min_size=1, max_size=30))
def test_wrapping_keeps_every_character_of_the_words(words):
    text = " ".join(words)
    lines = wrap(text)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    # A break falls at a space unless a word had to be cut.
    long_words = any(len(word) > LINE_WIDTH for word in words)
    if not long_words:
        assert " ".join(lines) == text
