"""The audit trail: every write, append-only, readable by admins."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from adjudicator.services import cursors
from adjudicator.services.runtime import Runtime


def events(rt: Runtime, query: dict[str, Any]) -> dict[str, Any]:
    limit = query.get("limit", 100)
    with rt.ledger.reading() as uow:
        rows = uow.events.page(
            cardholder_id=query.get("cardholder_id"),
            claim_id=query.get("claim_id"),
            limit=limit + 1,
            after_seq=cursors.decode(query.get("cursor")),
        )
    page = rows[:limit]
    return {
        "items": [asdict(row) for row in page],
        "next_cursor": cursors.encode(page[-1].seq) if len(rows) > limit else None,
    }
