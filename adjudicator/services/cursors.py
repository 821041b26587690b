"""Opaque page cursors: the position of the last row of a page."""

from __future__ import annotations

import base64

from adjudicator.services.errors import Invalid


def encode(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s:{seq}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = text.partition(":")
        position = int(seq)
        # A row's seq is a positive 64-bit integer: anything else is not ours (and a
        # larger number would overflow the database's integer, a 500).
        if prefix != "s" or not 0 < position < 2**63:
            raise ValueError(cursor)
        return position
    except (ValueError, UnicodeDecodeError):
        raise Invalid({"cursor": ["Not a cursor this API issued."]}) from None
