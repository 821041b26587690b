"""D.0 numbers: signed overpunch amounts with two implied decimals, quantities with three.

Strict on purpose: the mapping turns a ValueError here into the field's M/I code, so
anything NCPDP.md does not name (signs, spaces, decimal points, digits of other scripts,
an empty value) must be refused rather than read as something."""

from __future__ import annotations

_POSITIVE = "{ABCDEFGHI"  # the last digit 0-9 of a positive amount
_NEGATIVE = "}JKLMNOPQR"  # ... of a negative one
_ASCII_DIGITS = frozenset("0123456789")

# D.0 dollar amounts are s9(6)v99 at most (NCPDP.md reads 430-DU up to 999999.99); the
# writer keeps to what a reader of the standard can take.
MAX_AMOUNT_CENTS = 99_999_999
# 442-E7 is 9(7)v999: ten digits at most.
MAX_QUANTITY_THOUSANDTHS = 9_999_999_999


def _digits(text: str) -> bool:
    """ASCII 0-9 only: str.isdigit() also takes '²' and Arabic-Indic digits."""
    return bool(text) and all(char in _ASCII_DIGITS for char in text)


def read_amount(text: str) -> int:
    """Cents from `15000{` (1500.00), `1000}` (-100.00) or plain digits `150000`."""
    if not isinstance(text, str) or not text or (len(text) > 1 and not _digits(text[:-1])):
        raise ValueError(f"not an overpunched amount: {text!r}")
    head, last = text[:-1], text[-1]
    if last in _ASCII_DIGITS:
        return int(text)
    if last in _POSITIVE:
        return int(head + str(_POSITIVE.index(last)))
    if last in _NEGATIVE:
        return -int(head + str(_NEGATIVE.index(last)))
    raise ValueError(f"not an overpunched amount: {text!r}")


def write_amount(cents: int) -> str:
    """`150000` cents -> `15000{`; negative amounts overpunch their last digit with } J-R."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"an amount is integer cents, not {type(cents).__name__}")
    if abs(cents) > MAX_AMOUNT_CENTS:
        raise ValueError(f"{cents} cents is beyond D.0's 999999.99")
    digits = str(abs(cents)).rjust(3, "0")
    table = _NEGATIVE if cents < 0 else _POSITIVE
    return digits[:-1] + table[int(digits[-1])]


def read_quantity(text: str) -> str:
    """`0000008000` (three implied decimals) -> `8.000`: a decimal string, never a float."""
    if not isinstance(text, str) or not _digits(text):
        raise ValueError(f"not a quantity: {text!r}")
    whole, thousandths = divmod(int(text), 1000)
    return f"{whole}.{thousandths:03d}"


def write_quantity(quantity: str) -> str:
    """`8.000` or `8` -> `0000008000`; more than three decimals, a sign or a float: ValueError."""
    if not isinstance(quantity, str):
        raise ValueError(f"a quantity is a decimal string, not {quantity!r}")
    whole, point, fraction = quantity.partition(".")
    if not _digits(whole) or (point and not _digits(fraction)) or len(fraction) > 3:
        raise ValueError(f"not a quantity with up to 3 decimals: {quantity!r}")
    thousandths = int(whole) * 1000 + int(fraction.ljust(3, "0") or 0)
    if thousandths > MAX_QUANTITY_THOUSANDTHS:
        raise ValueError(f"{quantity} is beyond 442-E7's 9999999.999")
    return f"{thousandths:010d}"
