"""Claim use cases: intake, adjudication (worker side), reversal, sweep."""

from __future__ import annotations

import logging
import math
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
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
from adjudicator.services import claim_queries, records, terms
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)

Render = Callable[[dict[str, Any]], str]  # a claim's view -> the API's answer body

DONE = b"1"  # the token that says "decided" without the decision: read it from the ledger
DONE_GRACE_SECONDS = 5  # a token outlives the longest wait by this much, then expires
BLPOP_SLICE = 1.0  # seconds; below any sane Redis client socket timeout


@dataclass(frozen=True)
class Intake:
    claim_id: str
    duplicate: bool  # an identical resubmission of a paid claim: answer, change nothing
    new: bool  # a new claim was stored and enqueued


def submit(rt: Runtime, data: dict[str, Any]) -> Intake:
    """Store the claim as `received` and enqueue it, unless it repeats an earlier one."""
    request = records.normalized_claim_request(data)
    digest = records.request_hash(request)
    with rt.engine.begin() as conn:
        earlier = _identical_earlier_claim(conn, request, digest)
        if earlier is not None:
            return Intake(earlier.claim_id, duplicate=earlier.status == "paid", new=False)
        claim_id = uuid.uuid4().hex
        ledger.insert_claim(
            conn,
            claim_id=claim_id,
            pharmacy_npi=request["service_provider_id"],
            cardholder_id=request["cardholder_id"],
            rx_number=request["rx_number"],
            fill_number=request["fill_number"],
            date_of_service=data["date_of_service"],
            request=request,
            request_hash=digest,
            status="received",
            program_paid=0,
        )
        npi = request["service_provider_id"]
        _event(conn, claim_id, request["cardholder_id"], "received", f"pharmacy:{npi}")
    rt.enqueue(claim_id)
    log.debug("claim received", extra={"claim_id": claim_id})
    return Intake(claim_id, duplicate=False, new=True)


def _identical_earlier_claim(conn: Connection, request: dict[str, Any], digest: str) -> Any:
    """A paid or still undecided claim with the same key and the same content."""
    same_key = ledger.claims_with_key(
        conn,
        request["service_provider_id"],
        request["rx_number"],
        request["fill_number"],
        _dos(request),
    )
    for row in same_key:
        if row.request_hash == digest and row.status in ("paid", "received"):
            return row
    return None


def wait_for_decision(rt: Runtime, intake: Intake, timeout: float) -> Row[Any] | None:
    """The decided claim row, or None if it is still `received` when the wait runs out."""
    if intake.new:
        _await_done(rt, intake.claim_id, timeout)
        return _decided_row(rt, intake.claim_id)
    return _poll_until_decided(rt, intake.claim_id, timeout)


def wait_for_answer(rt: Runtime, intake: Intake, timeout: float) -> str | Row[Any] | None:
    """As wait_for_decision, but the decision as the worker rendered it when it sent one:
    the request then answers without reading the claim back from the ledger."""
    if intake.new:
        token = _await_done(rt, intake.claim_id, timeout)
        if token is not None and token != DONE:
            return token.decode()
        return _decided_row(rt, intake.claim_id)
    return _poll_until_decided(rt, intake.claim_id, timeout)


def _await_done(rt: Runtime, claim_id: str, timeout: float) -> bytes | None:
    """What the worker pushed when it had decided (None if nothing came in time)."""
    # BLPOP sleeps until the push, in slices shorter than the client's socket timeout
    # (redis-py 8: 5 s), and never BLPOP 0 (or under 2 ms, which Redis 6 reads as 0),
    # which would wait forever.
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) >= 0.01:
        popped = rt.redis.blpop([_done_key(claim_id)], timeout=min(left, BLPOP_SLICE))
        if popped:
            return popped[1]  # type: ignore[no-any-return]
    return None


def _decided_row(rt: Runtime, claim_id: str) -> Row[Any] | None:
    row = _read_claim(rt, claim_id)
    return row if row is not None and row.status != "received" else None


def _poll_until_decided(rt: Runtime, claim_id: str, timeout: float) -> Row[Any] | None:
    deadline = time.monotonic() + timeout
    while True:
        row = _read_claim(rt, claim_id)
        if row is not None and row.status != "received":
            return row
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _read_claim(rt: Runtime, claim_id: str) -> Row[Any] | None:
    with reading(rt.engine) as conn:
        return ledger.claim(conn, claim_id)


def _done_key(claim_id: str) -> str:
    return f"claim-done:{claim_id}"


# --- the worker side ---------------------------------------------------------------


def adjudicate(rt: Runtime, claim_id: str, render: Render | None = None) -> None:
    """Decide a `received` claim exactly once; a replay of the task changes nothing.

    With `render`, the waiting request is sent the decision as `render(view)` makes it.
    """
    with reading(rt.engine) as conn:
        row = ledger.claim(conn, claim_id)
        if row is None or row.status != "received":
            _notify(rt, claim_id)
            return
        loaded = _load_context(conn, row)
    decided = _decide_and_record(rt, row, loaded)
    _notify(rt, claim_id, _rendered(rt, decided, render) if render and decided else None)


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
    paid_twin: Row[Any] | None  # a paid claim with the same NCPDP key


def _load_context(conn: Connection, row: Row[Any]) -> _Loaded:
    request = row.request
    claim = records.claim_from_request(row.claim_id, request)
    chain = ledger.pharmacy_chain(conn, row.pharmacy_npi)
    years = tuple(records.year_from_row(y) for y in ledger.enrollments_of(conn, row.cardholder_id))
    paid_twin = _paid_claim_with_same_key(conn, row)
    context = ClaimContext(
        member_exists=bool(years) or ledger.member_exists(conn, row.cardholder_id),
        years=years,
        pharmacy_chain=chain or "",
        other_paid_claim_with_same_key=paid_twin is not None,
        overrides=frozenset(_approved_overrides(row)),
    )
    return _Loaded(claim, context, terms.in_force(conn, claim.date_of_service), paid_twin)


def _paid_claim_with_same_key(conn: Connection, row: Row[Any]) -> Row[Any] | None:
    same_key = ledger.claims_with_key(
        conn, row.pharmacy_npi, row.rx_number, row.fill_number, row.date_of_service
    )
    return next((c for c in same_key if c.status == "paid" and c.claim_id != row.claim_id), None)


def _approved_overrides(row: Row[Any]) -> list[str]:
    review = row.review or {}
    return list(review.get("rules", [])) if review.get("state") == "approved" else []


def _decide_and_record(rt: Runtime, row: Row[Any], loaded: _Loaded) -> Any:
    """The claim as recorded (row attributes), or None if this call did not decide it."""
    paid_twin = loaded.paid_twin
    if paid_twin is not None and paid_twin.request_hash == row.request_hash:
        # Two identical submissions raced past intake: this one is the duplicate.
        with rt.engine.begin() as conn:
            if ledger.set_claim_outcome(
                conn, row.claim_id, "received", status="duplicate", duplicate_of=paid_twin.claim_id
            ):
                _event(conn, row.claim_id, row.cardholder_id, "duplicate", "system")
        return None  # a duplicate answers as its original: the request reads it
    evaluation = evaluate(loaded.claim, loaded.context, loaded.terms)
    decision = _apply_annual_max(rt, row, evaluation)
    try:
        return _record(rt, row, evaluation, decision)
    except IntegrityError:
        # Another claim with this NCPDP key was paid between our read and our write:
        # give the reservation back and decide again, now seeing that paid claim.
        rt.accumulator.cancel(row.cardholder_id, row.claim_id)
        with reading(rt.engine) as conn:
            reloaded = _load_context(conn, row)
        return _decide_and_record(rt, row, reloaded)


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
            data = {
                "before": {"status": "received"},
                "after": {"status": decision.status, "program_paid": values["program_paid"]},
            }
            _event(conn, row.claim_id, row.cardholder_id, "decided", "system", data)
    log.info("claim decided", extra={"claim_id": row.claim_id, "status": decision.status})
    # The row as just written, without reading it back (present() takes attributes).
    return SimpleNamespace(**{**row._asdict(), **values}) if recorded else None


def _paid_key(row: Row[Any]) -> str:
    return f"{row.pharmacy_npi}|{row.rx_number}|{row.fill_number}|{row.date_of_service}"


def _authorization_number() -> str:
    return secrets.token_hex(6).upper()


def _notify(rt: Runtime, claim_id: str, answer: str | None = None) -> None:
    """Wake the request waiting for this claim, with the rendered decision if given."""
    key = _done_key(claim_id)
    # Only a request already waiting can take it: nobody reads it after the longest wait
    # (the rendered decision names the cardholder, so it must not linger in Redis).
    ttl = math.ceil(rt.config.sync_timeout) + DONE_GRACE_SECONDS
    with rt.redis.pipeline(transaction=False) as pipe:
        pipe.rpush(key, answer or DONE).expire(key, ttl).execute()


def sweep(rt: Runtime) -> int:
    """Re-enqueue claims left `received` (a lost message or a dead worker)."""
    cutoff = ledger.now() - timedelta(seconds=rt.config.sweep_after_seconds)
    with reading(rt.engine) as conn:
        stale = ledger.stale_received(conn, cutoff)
    for claim_id in stale:
        rt.enqueue(claim_id)
    if stale:
        log.warning("re-enqueued received claims", extra={"count": len(stale)})
    return len(stale)


# --- reversal ----------------------------------------------------------------------


def reverse(rt: Runtime, claim_id: str, npi: str, actor: str) -> Row[Any]:
    """Give a paid claim's program_paid back to its year, exactly once."""
    row = _read_claim(rt, claim_id)
    if row is None or row.pharmacy_npi != npi:
        raise NotFound("claim not found")
    if row.status == "reversed":
        return row
    if row.status != "paid":
        raise Conflict(
            "Claim Has Not Been Paid/Captured (NCPDP 84): only a paid claim can be reversed"
        )
    released = rt.accumulator.release(row.cardholder_id, claim_id)
    used_after = released.used_after
    if used_after is None:
        # Redis lost the grant (a fail-over), and with it the use the same script added:
        # nothing to give back, the year's use already lacks this claim.
        used_after = rt.accumulator.used(row.cardholder_id, row.enrollment_id)
    decision = dict(row.decision)
    if decision.get("benefit"):
        benefit = dict(decision["benefit"])
        # The year's use just before this release, not when the claim was paid: other
        # claims of the year may have been paid or reversed since (decisions.md #8).
        used_before = used_after + released.released_cents
        benefit.update(used_before=used_before, used_after=used_after)
        benefit["remaining"] = max(benefit["annual_max"] - used_after, 0)
        decision["benefit"] = benefit
    decision["status"] = "reversed"
    with rt.engine.begin() as conn:
        if ledger.set_claim_outcome(
            conn, claim_id, "paid", status="reversed", paid_key=None, decision=decision
        ):
            data = {
                "before": {"status": "paid", "program_paid": row.program_paid},
                "after": {"status": "reversed", "released": released.released_cents},
            }
            _event(conn, claim_id, row.cardholder_id, "reversed", actor, data)
    return _read_claim(rt, claim_id)  # type: ignore[return-value]


def find_by_key(rt: Runtime, npi: str, rx: str, fill: int, dos: date) -> str:
    """The id of the claim a key-based reversal means: the paid one, else the reversed one."""
    with reading(rt.engine) as conn:
        rows = ledger.claims_with_key(conn, npi, rx, fill, dos)
    for status in ("paid", "reversed"):
        for row in reversed(rows):
            if row.status == status:
                return str(row.claim_id)
    if rows:
        return str(rows[-1].claim_id)
    raise NotFound("no claim with that service provider, Rx number, fill number and date")


def _event(
    conn: Connection,
    claim_id: str,
    cardholder_id: str,
    type_: str,
    actor: str,
    data: dict[str, Any] | None = None,
) -> None:
    ledger.add_event(
        conn,
        actor=actor,
        entity_type="claim",
        entity_id=claim_id,
        cardholder_id=cardholder_id,
        type=type_,
        data=data or {},
    )


def _dos(request: dict[str, Any]) -> date:
    return date.fromisoformat(request["date_of_service"])
