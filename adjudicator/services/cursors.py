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
        if prefix != "s":
            raise ValueError(cursor)
        return int(seq)
    except (ValueError, UnicodeDecodeError):
        raise Invalid({"cursor": ["Not a cursor this API issued."]}) from None
