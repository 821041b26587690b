"""Overpunch amounts in integer cents and quantities with three implied decimals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adjudicator.ncpdp.amounts import (
    MAX_AMOUNT_CENTS,
    MAX_QUANTITY_THOUSANDTHS,
    read_amount,
    read_quantity,
    write_amount,
    write_quantity,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("15000{", 150000),  # NCPDP.md: 1500.00
        ("1000}", -10000),  # NCPDP.md: -100.00
        ("150000", 150000),  # plain digits
        ("2500E", 25005),
        ("99I", 999),
        ("1J", -11),
        ("000R", -9),
        ("{", 0),
        ("}", 0),
        ("0", 0),
        ("00000000{", 0),
    ],
)
def test_an_amount_is_read_as_ncpdp_says(text, cents):
    assert read_amount(text) == cents


@pytest.mark.parametrize(
    "text",
    ["", " ", "-100", "+100", "100 ", " 100", "10.00", "1{0", "{{", "10S", "10a", "1,000",
     "١٢٣", "12٣", "²", "1²", "１２", "0x10", "1e3", "1_000", "\x00"],
)  # fmt: skip
def test_anything_else_is_not_an_amount(text):
    with pytest.raises(ValueError, match="overpunched amount"):
        read_amount(text)


@pytest.mark.parametrize("text", ["", " 1", "1.000", "-1000", "+1000", "١٠٠٠", "1²", "8 000"])
def test_a_quantity_is_digits_only(text):
    with pytest.raises(ValueError, match="not a quantity"):
        read_quantity(text)


def test_a_quantity_has_three_implied_decimals():
    assert read_quantity("0000008000") == "8.000"
    assert read_quantity("8500") == "8.500"
    assert read_quantity("1") == "0.001"
    assert write_quantity("8.000") == "0000008000"
    assert write_quantity("8") == "0000008000"
    assert write_quantity("0.25") == "0000000250"


@pytest.mark.parametrize("quantity", ["", "8.0001", "-8", "8.", ".5x", "1e3", "10000000", "8,5"])
def test_a_quantity_that_d0_cannot_carry_is_refused(quantity):
    with pytest.raises(ValueError):
        write_quantity(quantity)


def test_an_amount_beyond_d0s_range_or_not_integer_cents_is_refused():
    with pytest.raises(ValueError):
        write_amount(MAX_AMOUNT_CENTS + 1)
    with pytest.raises(TypeError):
        write_amount(15.0)  # type: ignore[arg-type]  # money is never a float: the point


@given(st.integers(min_value=-MAX_AMOUNT_CENTS, max_value=MAX_AMOUNT_CENTS))
def test_any_amount_in_range_reads_back_as_written(cents):
    assert read_amount(write_amount(cents)) == cents


@given(st.integers(min_value=0, max_value=MAX_QUANTITY_THOUSANDTHS))
def test_any_quantity_in_range_reads_back_as_written(thousandths):
    text = f"{thousandths:010d}"
    assert write_quantity(read_quantity(text)) == text
    whole, fraction = read_quantity(text).split(".")
    assert int(whole) * 1000 + int(fraction) == thousandths
