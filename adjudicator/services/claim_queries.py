"""Read side of claims: one claim as the API shows it, and cursor-paged listings."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Row

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services import cursors
from adjudicator.services.errors import NotFound
from adjudicator.services.runtime import Runtime


def get(
    rt: Runtime, claim_id: str, *, npi: str | None = None, with_events: bool = False
) -> dict[str, Any]:
    """A claim's view; 404 also when it belongs to another pharmacy than `npi`."""
    with reading(rt.engine) as conn:
        row = ledger.claim(conn, claim_id)
        if row is None or (npi is not None and row.pharmacy_npi != npi):
            raise NotFound("claim not found")
        view = present(rt, row)
        if with_events:
            view["events"] = [_event(e) for e in ledger.events_of(conn, "claim", claim_id)]
    return view


def present(rt: Runtime, row: Row[Any]) -> dict[str, Any]:
    """The decision shape of API.md, money in cents and dates as dates."""
    if row.status == "duplicate" and row.duplicate_of:
        original = get(rt, row.duplicate_of)
        return {**original, "status": "duplicate"}
    decision = row.decision or {}
    request = row.request
    responsibility = sum(line["patient_responsibility"] for line in request["lines"])
    return {
        "claim_id": row.claim_id,
        "authorization_number": row.authorization_number,
        "transaction_code": request.get("transaction_code", "B1"),
        "status": row.status,
        "reject_codes": [
            {"code": r["code"], "message": r["message"]} for r in decision.get("reject_codes", [])
        ],
        "amounts": decision.get("amounts")
        or {
            "patient_responsibility": responsibility,
            "eligible": 0,
            "program_paid": 0,
            "patient_pay": responsibility,
        },
        "benefit": _benefit(decision.get("benefit")),
        "cash_pay": decision.get("cash_pay", False),
        "reasons": decision.get("reasons", []),
        "messages": decision.get("messages", []),
        "terms_version": decision.get("terms_version"),
        "review": _review(row.review),
        "links": {"self": f"/v1/claims/{row.claim_id}"},
        "cardholder_id": row.cardholder_id,
        "rx_number": row.rx_number,
        "fill_number": row.fill_number,
        "date_of_service": row.date_of_service,
    }


def _benefit(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        **record,
        "period_start": date.fromisoformat(record["period_start"]),
        "period_end": date.fromisoformat(record["period_end"]),
    }


def _review(review: dict[str, Any] | None) -> dict[str, Any] | None:
    if not review:
        return None
    return {key: review.get(key) for key in ("state", "note", "by", "at")}


def _event(row: Row[Any]) -> dict[str, Any]:
    return {"at": row.at, "type": row.type, "actor": row.actor, "data": row.data}


def listing(rt: Runtime, query: dict[str, Any], *, npi: str | None) -> dict[str, Any]:
    limit = query.get("limit", 50)
    review_open = query.get("review") == "open"
    with reading(rt.engine) as conn:
        rows = ledger.list_claims(
            conn,
            npi=npi,
            cardholder_id=query.get("cardholder_id"),
            status=query.get("status"),
            review_open=review_open,
            date_from=query.get("date_from"),
            date_to=query.get("date_to"),
            limit=limit + 1,  # one more tells whether there is a next page
            after_seq=cursors.decode(query.get("cursor")),
        )
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1].seq) if len(rows) > limit else None
    return {"items": [present(rt, row) for row in page], "next_cursor": next_cursor}
