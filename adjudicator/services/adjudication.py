"""Deciding a claim, on the worker: load, evaluate, reserve within the cap, record,
and tell the waiting request. Idempotent by claim id; a sweep re-enqueues stragglers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from adjudicator.adapters import ledger
from adjudicator.adapters.accumulator import Reservation
from adjudicator.adapters.db import reading
from adjudicator.domain.adjudicate import decide, evaluate, grant
from adjudicator.domain.model import Claim, ClaimContext, Decision, Evaluation
from adjudicator.domain.terms import Terms
from adjudicator.services import claim_queries, records, reversals, terms
from adjudicator.services.claims import announce_decided, claim_event
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)

Render = Callable[[dict[str, Any]], str]  # a claim's view -> the API's answer body


def adjudicate(rt: Runtime, claim_id: str, render: Render | None = None) -> None:
    """Decide a `received` claim exactly once; a replay of the task changes nothing.

    With `render`, the waiting request is sent the decision as `render(view)` makes it.
    """
    with reading(rt.engine) as conn:
        row = ledger.claim_to_decide(conn, claim_id)
        if row is None or row.status != "received":
            announce_decided(rt, claim_id)
            return
        loaded = _load_context(conn, row)
    decided = _decide_and_record(rt, row, loaded)
    answer = _rendered(rt, decided, render) if render and decided else None
    announce_decided(rt, claim_id, answer)


def _rendered(rt: Runtime, decided: Any, render: Render) -> str | None:
    """The decision as the API answers it; None (read it from the ledger) if that fails:
    the decision is committed, and the waiting request must hear of it either way."""
    try:
        return render(claim_queries.present(rt, decided))
    except Exception:
        log.exception("rendering a decision failed", extra={"claim_id": decided.claim_id})
        return None


@dataclass(frozen=True)
class _Loaded:
    """What the worker reads before it decides one claim."""

    claim: Claim
    context: ClaimContext
    terms: Terms


def _load_context(conn: Connection, row: Row[Any]) -> _Loaded:
    """`row` as ledger.claim_to_decide reads it: the claim, its pharmacy's chain, its
    paid twin and the terms' generation."""
    claim = records.claim_from_request(row.claim_id, row.request)
    years = tuple(records.year_from_row(y) for y in ledger.enrollments_of(conn, row.cardholder_id))
    context = ClaimContext(
        member_exists=bool(years) or ledger.member_exists(conn, row.cardholder_id),
        years=years,
        pharmacy_chain=row.pharmacy_chain or "",
        other_paid_claim_with_same_key=row.paid_twin_id is not None,
        overrides=frozenset(_approved_overrides(row)),
    )
    generation = (row.terms_count, row.terms_changed_at)
    in_force = terms.for_claim_at_generation(conn, claim.date_of_service, generation)
    return _Loaded(claim, context, in_force)


def _approved_overrides(row: Row[Any]) -> list[str]:
    review = row.review or {}
    return list(review.get("rules", [])) if review.get("state") == "approved" else []


def _decide_and_record(rt: Runtime, row: Row[Any], loaded: _Loaded) -> Any:
    """The claim as recorded (row attributes), or None if this call did not decide it."""
    if row.paid_twin_hash is not None and row.paid_twin_hash == row.request_hash:
        # Two identical submissions raced past intake: this one is the duplicate.
        with rt.engine.begin() as conn:
            recorded = ledger.set_claim_outcome(
                conn, row.claim_id, "received", status="duplicate", duplicate_of=row.paid_twin_id
            )
            if recorded:
                claim_event(conn, row.claim_id, row.cardholder_id, "duplicate", "system")
                _forget_reservation(rt, row)
        if not recorded:
            _settle_reservation(rt, row)
        return None  # a duplicate answers as its original: the request reads it
    evaluation = evaluate(loaded.claim, loaded.context, loaded.terms)
    decision = _apply_annual_max(rt, row, evaluation)
    try:
        recorded = _record(rt, row, evaluation, decision)
    except IntegrityError:
        # Another claim with this NCPDP key was paid between our read and our write:
        # give the reservation back and decide again, now seeing that paid claim.
        rt.accumulator.cancel(row.cardholder_id, row.claim_id)
        with reading(rt.engine) as conn:
            fresh = ledger.claim_to_decide(conn, row.claim_id)
            if fresh is None or fresh.status != "received":
                return None
            reloaded = _load_context(conn, fresh)
        return _decide_and_record(rt, fresh, reloaded)
    if recorded is None:
        _settle_reservation(rt, row)
    return recorded


def _forget_reservation(rt: Runtime, row: Row[Any]) -> None:
    """Give back what an earlier attempt of this task reserved (it died before recording,
    and the claim is now decided otherwise). Called inside the transaction that records
    the rejection: until it commits no review, re-adjudication or other attempt can see
    the claim decided and reserve for it, and a failure here rolls the decision back."""
    rt.accumulator.cancel(row.cardholder_id, row.claim_id)


def _settle_reservation(rt: Runtime, row: Row[Any]) -> None:
    """After another attempt decided this claim first: give back what this one reserved,
    unless the claim ended paid (or reversed), whose reservation is the winner's."""
    with reading(rt.engine) as conn:
        current = ledger.claim(conn, row.claim_id)
    if current is not None and current.status in ("rejected", "duplicate"):
        rt.accumulator.cancel(row.cardholder_id, row.claim_id)


def _apply_annual_max(rt: Runtime, row: Row[Any], evaluation: Evaluation) -> Decision:
    year = evaluation.year
    if year is None:
        return decide(evaluation, used_before=0, granted=0)
    if evaluation.rejects:
        used = rt.accumulator.used(row.cardholder_id, year.enrollment_id)
        return decide(evaluation, used_before=used, granted=0)
    reservation = _reserve(rt, row, evaluation, year.enrollment_id)
    if reservation.replayed and reservation.granted > grant(
        evaluation.requested, reservation.used_before, evaluation.annual_max
    ):
        # A retried task whose claim now asks for less (the enrollment changed between
        # the two attempts): give the old reservation back and reserve afresh.
        rt.accumulator.cancel(row.cardholder_id, row.claim_id)
        reservation = _reserve(rt, row, evaluation, year.enrollment_id)
    return decide(evaluation, used_before=reservation.used_before, granted=reservation.granted)


def _reserve(rt: Runtime, row: Row[Any], evaluation: Evaluation, enrollment_id: str) -> Reservation:
    return rt.accumulator.reserve(
        row.cardholder_id, enrollment_id, row.claim_id, evaluation.requested, evaluation.annual_max
    )


def _record(rt: Runtime, row: Row[Any], evaluation: Evaluation, decision: Decision) -> Any:
    paid = decision.status == "paid"
    review_open = not paid and bool(decision.reviewable_rules)
    values: dict[str, Any] = {
        "status": decision.status,
        "decision": records.decision_record(decision),
        "enrollment_id": evaluation.year.enrollment_id if evaluation.year else None,
        "program_paid": decision.amounts.program_paid,
        "authorization_number": _authorization_number() if paid else None,
        "paid_key": _paid_key(row) if paid else None,
        "decided_at": ledger.now(),
    }
    if review_open:
        values["review_state"] = "open"
        values["review"] = {"state": "open", "rules": list(decision.reviewable_rules)}
    with rt.engine.begin() as conn:
        recorded = ledger.set_claim_outcome(conn, row.claim_id, "received", **values)
        if recorded:
            if not paid:
                _forget_reservation(rt, row)
            data = {
                "before": {"status": "received"},
                "after": {"status": decision.status, "program_paid": values["program_paid"]},
            }
            claim_event(conn, row.claim_id, row.cardholder_id, "decided", "system", data)
    log.info("claim decided", extra={"claim_id": row.claim_id, "status": decision.status})
    # The row as just written, without reading it back (present() takes attributes).
    return SimpleNamespace(**{**row._asdict(), **values}) if recorded else None


def _paid_key(row: Row[Any]) -> str:
    return f"{row.pharmacy_npi}|{row.rx_number}|{row.fill_number}|{row.date_of_service}"


def _authorization_number() -> str:
    return secrets.token_hex(6).upper()


def sweep(rt: Runtime) -> int:
    """Re-enqueue claims left `received` (a lost message or a dead worker), and finish
    the reversals whose release a dead process or an absent Redis left pending."""
    reversals.finish_pending(rt)
    cutoff = ledger.now() - timedelta(seconds=rt.config.sweep_after_seconds)
    with reading(rt.engine) as conn:
        stale = ledger.stale_received(conn, cutoff)
    for claim_id in stale:
        rt.enqueue(claim_id)
    if stale:
        log.warning("re-enqueued received claims", extra={"count": len(stale)})
    return len(stale)
