"""Read models of the hub console: the review queue, a claim, a member, and search.

Money stays in cents and dates stay dates; the web layer formats them for people.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from adjudicator.domain.outcomes import ReviewState
from adjudicator.domain.records import ClaimRecord, EnrollmentRecord, EventRecord, as_utc
from adjudicator.services import claim_queries, terms
from adjudicator.services.enrollments import enrollment_view
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import ClaimFilter, UnitOfWork

QUEUE_PAGE = 100  # open reviews per page of the console's queue
QUEUE_BATCH = 200  # rows read per round trip while filtering the queue
MEMBER_CLAIMS = 200  # the newest claims a member page lists


# --- the review queue --------------------------------------------------------------


def review_queue(
    rt: Runtime,
    *,
    rule: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    after: int | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open reviews, oldest first: `{"items": [...], "next_after": seq or None}`.

    Each item: seq, claim_id, cardholder_id, rx_number, date_of_service, received_at,
    age_seconds, rules (the reviewable rules that failed), reject_codes, eligible
    (cents), benefit_period ({start, end} or None). `rule` keeps the items whose
    open review is about that rule; the dates bound the date of service. A page of
    `limit` items (default QUEUE_PAGE) starts after the claim whose `seq` is `after`;
    `next_after` starts the next page (None on the last).
    """
    now = now or datetime.now(UTC)
    limit = limit or QUEUE_PAGE
    items: list[dict[str, Any]] = []
    queue = ClaimFilter(review_open=True, date_from=date_from, date_to=date_to)
    with rt.ledger.reading() as uow:
        while len(items) <= limit:
            rows = uow.claims.page(queue, QUEUE_BATCH, after)
            items += [_queue_item(r, now) for r in rows if rule is None or rule in _rules(r)]
            if len(rows) < QUEUE_BATCH:
                break
            after = rows[-1].seq
    next_after = items[limit - 1]["seq"] if len(items) > limit else None
    return {"items": items[:limit], "next_after": next_after}


def _rules(row: ClaimRecord) -> list[str]:
    return list((row.review or {}).get("rules", []))


def _queue_item(row: ClaimRecord, now: datetime) -> dict[str, Any]:
    decision = row.decision or {}
    benefit = decision.get("benefit")
    received = as_utc(row.created_at)  # type: ignore[arg-type]  # read with every column
    return {
        "seq": row.seq,
        "claim_id": row.claim_id,
        "cardholder_id": row.cardholder_id,
        "rx_number": row.rx_number,
        "fill_number": row.fill_number,
        "date_of_service": row.date_of_service,
        "received_at": received,
        "age_seconds": max(int((now - received).total_seconds()), 0),
        "rules": _rules(row),
        "reject_codes": decision.get("reject_codes", []),
        "eligible": (decision.get("amounts") or {}).get("eligible", 0),
        "benefit_period": _period(benefit),
    }


def _period(benefit: dict[str, Any] | None) -> dict[str, date] | None:
    if not benefit:
        return None
    return {
        "start": date.fromisoformat(benefit["period_start"]),
        "end": date.fromisoformat(benefit["period_end"]),
    }


# --- one claim ---------------------------------------------------------------------


def claim_page(rt: Runtime, claim_id: str) -> dict[str, Any] | None:
    """The claim's decision and events, its stored review, request and the year now."""
    with rt.ledger.reading() as uow:
        row = uow.claims.get(claim_id)
        if row is None:
            return None
        events = [_event(e) for e in uow.events.of("claim", claim_id)]
        year = _year_containing(uow, row.cardholder_id, row.date_of_service)
        year_view = _year(rt, uow, year) if year is not None else None
    view = claim_queries.present(rt, row, npi=None)  # hub staff
    return {
        "claim": view,
        "status": row.status,  # the claim's own status (a duplicate shows the original's)
        "pharmacy_npi": row.pharmacy_npi,
        "received_at": as_utc(row.created_at),  # type: ignore[arg-type]  # every column read
        "decided_at": as_utc(row.decided_at) if row.decided_at else None,
        "request": row.request,
        "review": row.review,
        "review_open": row.review_state == ReviewState.OPEN,
        "reject_rules": [r.get("rule") for r in (row.decision or {}).get("reject_codes", [])],
        "events": events,
        "year": year_view,
    }


def _event(row: EventRecord) -> dict[str, Any]:
    return {"at": as_utc(row.at), "type": row.type, "actor": row.actor, "data": row.data or {}}


def _year_containing(uow: UnitOfWork, cardholder_id: str, on: date) -> EnrollmentRecord | None:
    return next((y for y in uow.members.years_of(cardholder_id) if y.contains(on)), None)


# --- a member ----------------------------------------------------------------------


def member_page(rt: Runtime, cardholder_id: str) -> dict[str, Any] | None:
    """Every enrollment year (status, reasons, benefit used now) and the newest claims."""
    with rt.ledger.reading() as uow:
        if not uow.members.exists(cardholder_id):
            return None
        years = [_year(rt, uow, y) for y in uow.members.years_of(cardholder_id)]
        rows = uow.claims.page(ClaimFilter(cardholder_id=cardholder_id), MEMBER_CLAIMS + 1, None)
    claims = [_claim_line(rt, r) for r in rows[:MEMBER_CLAIMS]]
    latest = years[-1] if years else None
    return {
        "cardholder_id": cardholder_id,
        "patient": latest["enrollment"]["patient"] if latest else None,
        "years": list(reversed(years)),  # the newest year first
        "claims": claims,
        "more_claims": len(rows) > MEMBER_CLAIMS,
    }


def _year(rt: Runtime, uow: UnitOfWork, row: EnrollmentRecord) -> dict[str, Any]:
    annual_max = terms.in_force(uow, row.period_start).annual_max
    used = rt.accumulator.used(row.cardholder_id, row.enrollment_id)
    return {
        "enrollment": enrollment_view(uow, row),
        "benefit": {
            "annual_max": annual_max,
            "used": used,
            "remaining": max(annual_max - used, 0),
        },
        "current": row.period_start <= date.today() <= row.period_end,
    }


def _claim_line(rt: Runtime, row: ClaimRecord) -> dict[str, Any]:
    decision = row.decision or {}
    amounts = decision.get("amounts") or {}
    return {
        "claim_id": row.claim_id,
        "rx_number": row.rx_number,
        "fill_number": row.fill_number,
        "date_of_service": row.date_of_service,
        "status": row.status,
        "review_state": row.review_state,
        "program_paid": amounts.get("program_paid", 0),
        "eligible": amounts.get("eligible", 0),
        "reject_codes": decision.get("reject_codes", []),
    }


def enrollment(rt: Runtime, enrollment_id: str) -> dict[str, Any] | None:
    with rt.ledger.reading() as uow:
        row = uow.members.enrollment(enrollment_id)
        return enrollment_view(uow, row) if row is not None else None


# --- search ------------------------------------------------------------------------


def search(rt: Runtime, text: str) -> dict[str, Any]:
    """What `text` names: `{"kind": "claim" | "member" | "rx" | "none", ...}`.

    A claim id or a cardholder id names one thing; an Rx number lists its claims
    (several pharmacies and fills may share one).
    """
    text = text.strip()
    if not text:
        return {"kind": "none", "claims": []}
    with rt.ledger.reading() as uow:
        for candidate in dict.fromkeys((text, text.upper(), text.lower())):
            if uow.claims.get(candidate) is not None:
                return {"kind": "claim", "claim_id": candidate}
            if uow.members.exists(candidate):
                return {"kind": "member", "cardholder_id": candidate}
        rows = uow.claims.with_rx((text, text.upper()), MEMBER_CLAIMS)
    if not rows:
        return {"kind": "none", "claims": []}
    return {
        "kind": "rx",
        "claims": [_claim_line(rt, r) | {"cardholder_id": r.cardholder_id} for r in rows],
    }
