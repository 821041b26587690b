"""Money: integer cents inside, decimal strings with exactly two places at the edges."""

from __future__ import annotations

from typing import Any

import pytest

from adjudicator.domain.money import MAX_CENTS, format_money, parse_money

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("0.00", 0),
        ("0.01", 1),
        ("40.00", 4_000),
        ("1000.00", 100_000),
        ("12000.00", 1_200_000),
        ("999999.99", MAX_CENTS),
    ],
)
def test_a_two_place_decimal_string_is_read_as_cents(text: str, cents: int) -> None:
    assert parse_money(text) == cents
    assert format_money(cents) == text


@pytest.mark.parametrize(
    "text",
    ["1000", "1000.0", "1000.000", ".50", "1,000.00", "$1000.00", " 1.00", "1.00 ", "1e3",
     "1000000.00", "-1.00", "+1.00", "", "NaN"],
)  # fmt: skip
def test_anything_else_in_a_money_field_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="two places"):
        parse_money(text)


@pytest.mark.parametrize("value", [1000, 1000.0, None, b"1.00"])
def test_money_must_arrive_as_a_string(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_money(value)


@pytest.mark.parametrize("text", ["1000.00\n", "\u0661\u0660\u0660\u0660.\u0660\u0660"])
def test_a_trailing_newline_or_non_ascii_digits_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_money(text)


def test_a_signed_delta_may_be_negative() -> None:
    assert parse_money("-1000.00", signed=True) == -100_000
    assert parse_money("1000.00", signed=True) == 100_000
    assert format_money(-100_000) == "-1000.00"
    assert format_money(-5) == "-0.05"


def test_cents_are_formatted_without_thousands_separators() -> None:
    assert format_money(1_234_567) == "12345.67"
