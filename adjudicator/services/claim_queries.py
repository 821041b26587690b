"""Read side of claims: one claim as the API shows it, and cursor-paged listings."""

from __future__ import annotations

from datetime import date
from typing import Any

from adjudicator.domain.outcomes import ClaimStatus, ReviewState
from adjudicator.domain.records import ClaimRecord, EventRecord
from adjudicator.services import cursors
from adjudicator.services.errors import NotFound
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import ClaimFilter


def get(
    rt: Runtime, claim_id: str, *, npi: str | None = None, with_events: bool = False
) -> dict[str, Any]:
    """A claim's view as the pharmacy `npi` sees it (404 also when the claim is another
    pharmacy's), or as hub staff see it when `npi` is None."""
    with rt.ledger.reading() as uow:
        claim = uow.claims.get(claim_id)
        if claim is None or (npi is not None and claim.pharmacy_npi != npi):
            raise NotFound("claim not found")
        events = uow.events.of("claim", claim_id) if with_events else None
    view = _view(rt, claim)
    if events is not None:
        view["events"] = [_event(e) for e in events]
    return view if npi is None else pharmacy_view(view)


def present(rt: Runtime, row: ClaimRecord, *, npi: str | None) -> dict[str, Any]:
    """The decision shape of API.md, money in cents and dates as dates: as the pharmacy
    `npi` sees it (the caller checked it is the claim's), or hub staff when None."""
    view = _view(rt, row)
    return view if npi is None else pharmacy_view(view)


def pharmacy_view(view: dict[str, Any]) -> dict[str, Any]:
    """What a pharmacy is shown of a claim's view (API.md, the claim's `review`): of its
    review the state and time only, never the note or who wrote it; of its events what
    happened and when, never who (`actor`) or a note. Notes are the hub's own record.
    Every answer a pharmacy gets about a claim passes here: the one place that decides it."""
    shown = dict(view)
    if view["review"] is not None:
        shown["review"] = {key: view["review"][key] for key in ("state", "at")}
    if "events" in view:
        shown["events"] = [
            {"at": e["at"], "type": e["type"], "data": _without_note(e["data"])}
            for e in view["events"]
        ]
    return shown


def _without_note(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "note"}


def _view(rt: Runtime, row: ClaimRecord) -> dict[str, Any]:
    """A claim's whole view, as hub staff see it."""
    if row.status == ClaimStatus.DUPLICATE and row.duplicate_of:
        original = get(rt, row.duplicate_of)
        return {**original, "status": ClaimStatus.DUPLICATE}
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
        "channel": row.channel,
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


def _event(row: EventRecord) -> dict[str, Any]:
    return {"at": row.at, "type": row.type, "actor": row.actor, "data": row.data}


def listing(rt: Runtime, query: dict[str, Any], *, npi: str | None) -> dict[str, Any]:
    limit = query.get("limit", 50)
    review_open = query.get("review") == ReviewState.OPEN
    where = ClaimFilter(
        npi=npi,
        cardholder_id=query.get("cardholder_id"),
        status=query.get("status"),
        review_open=review_open,
        date_from=query.get("date_from"),
        date_to=query.get("date_to"),
    )
    after = cursors.decode(query.get("cursor"))
    with rt.ledger.reading() as uow:
        rows = uow.claims.page(where, limit + 1, after)  # one more: is there a next page
    page = rows[:limit]
    next_cursor = cursors.encode(page[-1].seq or 0) if len(rows) > limit else None
    return {"items": [present(rt, row, npi=npi) for row in page], "next_cursor": next_cursor}


def read_claim(rt: Runtime, claim_id: str) -> ClaimRecord | None:
    """The claim as the ledger has it now."""
    with rt.ledger.reading() as uow:
        return uow.claims.get(claim_id)
