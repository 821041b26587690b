"""Money as integer cents; decimal strings with exactly two places at the edges."""

import re

Cents = int

MAX_CENTS = 99_999_999  # "999999.99", the largest amount the API accepts
_MONEY = re.compile(r"(-?)([0-9]{1,6})\.([0-9]{2})")


def parse_money(text: str, *, signed: bool = False) -> Cents:
    """Parse "1000.00" into 100000 cents; anything else raises ValueError."""
    match = _MONEY.fullmatch(text) if isinstance(text, str) else None
    if not match or (match.group(1) and not signed):
        raise ValueError('must be a decimal string with exactly two places, e.g. "1000.00"')
    cents = int(match.group(2)) * 100 + int(match.group(3))
    return -cents if match.group(1) else cents


def format_money(cents: Cents) -> str:
    """Format cents as a two-decimal string; negative only for signed deltas."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
