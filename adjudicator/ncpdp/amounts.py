"""D.0 numbers: signed overpunch amounts with two implied decimals, quantities with three."""

from __future__ import annotations

_POSITIVE = "{ABCDEFGHI"  # the last digit 0-9 of a positive amount
_NEGATIVE = "}JKLMNOPQR"  # ... of a negative one


def read_amount(text: str) -> int:
    """Cents from `15000{` (1500.00), `1000}` (-100.00) or plain digits `150000`."""
    if not text or (len(text) > 1 and not text[:-1].isdigit()):
        raise ValueError(f"not an overpunched amount: {text!r}")
    last = text[-1]
    if last.isdigit():
        return int(text)
    if last in _POSITIVE:
        return int(text[:-1] + str(_POSITIVE.index(last)))
    if last in _NEGATIVE:
        return -int(text[:-1] + str(_NEGATIVE.index(last)))
    raise ValueError(f"not an overpunched amount: {text!r}")


def write_amount(cents: int) -> str:
    """`150000` cents -> `15000{`; negative amounts overpunch their last digit with } J-R."""
    digits = str(abs(cents)).rjust(3, "0")
    table = _NEGATIVE if cents < 0 else _POSITIVE
    return digits[:-1] + table[int(digits[-1])]


def read_quantity(text: str) -> str:
    """`0000008000` (three implied decimals) -> `8.000`: a decimal string, never a float."""
    if not text.isdigit():
        raise ValueError(f"not a quantity: {text!r}")
    whole, thousandths = divmod(int(text), 1000)
    return f"{whole}.{thousandths:03d}"


def write_quantity(quantity: str) -> str:
    """`8.000` or `8` -> `0000008000`."""
    whole, _, fraction = quantity.partition(".")
    return f"{int(whole) * 1000 + int(fraction.ljust(3, '0')[:3] or 0):010d}"
