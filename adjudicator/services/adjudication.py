"""Deciding a claim, on the worker: load, evaluate, reserve within the cap, record.
Idempotent by claim id; a sweep re-enqueues stragglers. The intake is services/intake.py."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta

import redis

from adjudicator.adapters.accumulator import Reservation
from adjudicator.domain.adjudicate import decide, evaluate, grant, within_ledger
from adjudicator.domain.model import Claim, ClaimContext, Decision, Evaluation
from adjudicator.domain.outcomes import (
    SETTLED_ELSEWHERE,
    ClaimStatus,
    approved_overrides,
)
from adjudicator.domain.payments import owed_for
from adjudicator.domain.records import ClaimRecord, ClaimToDecide
from adjudicator.domain.terms import Terms
from adjudicator.services import accumulators, money, rebills, reversals, terms
from adjudicator.services.decided import outcome_columns
from adjudicator.services.history import claim_event
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import DuplicatePaidKey, UnitOfWork

log = logging.getLogger(__name__)


def adjudicate(rt: Runtime, claim_id: str) -> ClaimRecord | None:
    """Decide a `received` claim exactly once; a replay of the task changes nothing.

    The claim as this call recorded it; None when this call did not decide it (it was
    decided already, or it is a duplicate, which answers as its original)."""
    with rt.ledger.reading() as uow:
        found = uow.claims.to_decide(claim_id)
        if found is None or found.record.status != ClaimStatus.RECEIVED:
            return None
        loaded = _load(uow, found)
    return _decide_and_record(rt, found, loaded)


@dataclass(frozen=True)
class _Loaded:
    """What the worker reads before it decides one claim."""

    claim: Claim
    context: ClaimContext
    terms: Terms


def _load(uow: UnitOfWork, found: ClaimToDecide) -> _Loaded:
    record = found.record
    claim = record.claim()
    years = tuple(year.year() for year in uow.members.years_of(record.cardholder_id))
    context = ClaimContext(
        member_exists=bool(years) or uow.members.exists(record.cardholder_id),
        years=years,
        pharmacy_chain=found.pharmacy_chain,
        # A rebill's twin is the claim it replaces: no duplicate of it (NCPDP.md, B3).
        other_paid_claim_with_same_key=found.paid_twin_id not in (None, record.rebill_of),
        overrides=approved_overrides(record.review),
    )
    in_force = terms.for_claim_at_generation(uow, claim.date_of_service, found.terms_generation)
    return _Loaded(claim, context, in_force)


def _decide_and_record(rt: Runtime, found: ClaimToDecide, loaded: _Loaded) -> ClaimRecord | None:
    record = found.record
    if found.repeats_paid_twin:
        _record_duplicate(rt, found)
        return None  # a duplicate answers as its original: the request reads it
    if record.rebill_of is not None:
        return rebills.decide(rt, found, loaded.claim, loaded.context, loaded.terms)
    evaluation = evaluate(loaded.claim, loaded.context, loaded.terms)
    decision = _apply_annual_max(rt, record, evaluation)
    try:
        recorded = _record(rt, record, evaluation, decision)
    except DuplicatePaidKey:
        # Another claim with this NCPDP key was paid between our read and our write:
        # give the reservation back and decide again, now seeing that paid claim.
        rt.accumulator.cancel(record.cardholder_id, record.claim_id)
        with rt.ledger.reading() as uow:
            fresh = uow.claims.to_decide(record.claim_id)
            if fresh is None or fresh.record.status != ClaimStatus.RECEIVED:
                return None
            reloaded = _load(uow, fresh)
        return _decide_and_record(rt, fresh, reloaded)
    if recorded is None:
        _settle_reservation(rt, record)
    return recorded


def _record_duplicate(rt: Runtime, found: ClaimToDecide) -> None:
    """Two identical submissions raced past intake: this one is the duplicate."""
    record = found.record
    with rt.ledger.writing() as uow:
        recorded = uow.claims.set_outcome(
            record.claim_id,
            ClaimStatus.RECEIVED,
            status=ClaimStatus.DUPLICATE,
            duplicate_of=found.paid_twin_id,
        )
        if recorded:
            claim_event(uow, record, "duplicate", "system")
            _forget_reservation(rt, record)
    if not recorded:
        _settle_reservation(rt, record)


def _forget_reservation(rt: Runtime, record: ClaimRecord) -> None:
    """Give back what an earlier attempt of this task reserved (it died before recording,
    and the claim is now decided otherwise). Called inside the transaction that records
    the rejection: until it commits no review, re-adjudication or other attempt can see
    the claim decided and reserve for it, and a failure here rolls the decision back."""
    rt.accumulator.cancel(record.cardholder_id, record.claim_id)


def _settle_reservation(rt: Runtime, record: ClaimRecord) -> None:
    """After another attempt decided this claim first: give back what this one reserved,
    unless the claim ended paid (or reversed), whose reservation is the winner's."""
    with rt.ledger.reading() as uow:
        current = uow.claims.get(record.claim_id)
    if current is not None and current.status in SETTLED_ELSEWHERE:
        rt.accumulator.cancel(record.cardholder_id, record.claim_id)


def _apply_annual_max(rt: Runtime, record: ClaimRecord, evaluation: Evaluation) -> Decision:
    year = evaluation.year
    if year is None:
        return decide(evaluation, used_before=0, granted=0)
    if evaluation.rejects:
        used = rt.accumulator.used(record.cardholder_id, year.enrollment_id)
        return decide(evaluation, used_before=used, granted=0)
    reservation = _reserve(rt, record, evaluation, year.enrollment_id)
    if reservation.replayed and reservation.granted > grant(
        evaluation.requested, reservation.used_before, evaluation.annual_max
    ):
        # A retried task whose claim now asks for less (the enrollment changed between
        # the two attempts): give the old reservation back and reserve afresh.
        rt.accumulator.cancel(record.cardholder_id, record.claim_id)
        reservation = _reserve(rt, record, evaluation, year.enrollment_id)
    return decide(evaluation, used_before=reservation.used_before, granted=reservation.granted)


def _reserve(
    rt: Runtime, record: ClaimRecord, evaluation: Evaluation, enrollment_id: str
) -> Reservation:
    return rt.accumulator.reserve(
        record.cardholder_id,
        enrollment_id,
        record.claim_id,
        evaluation.requested,
        evaluation.annual_max,
    )


def _record(
    rt: Runtime, record: ClaimRecord, evaluation: Evaluation, decision: Decision
) -> ClaimRecord | None:
    """The claim as recorded; None if another attempt recorded it first."""
    with rt.ledger.writing() as uow:
        settled = _within_ledger(uow, record, evaluation, decision)
        values = outcome_columns(rt, record, evaluation, settled)
        recorded = uow.claims.set_outcome(record.claim_id, ClaimStatus.RECEIVED, **values)
        if recorded:
            money.record(
                uow, record, before=0, after=owed_for(settled.status, values["program_paid"])
            )
            if settled.status != ClaimStatus.PAID:
                _forget_reservation(rt, record)
            data = {
                "before": {"status": ClaimStatus.RECEIVED},
                "after": {"status": settled.status, "program_paid": values["program_paid"]},
            }
            if settled is not decision:
                data["ledger_guard"] = {"reserved": decision.amounts.program_paid}
            claim_event(uow, record, "decided", "system", data)
    if recorded and settled is not decision:
        _heal_after_correction(rt, record, evaluation, decision, settled)
    log.info("claim decided", extra={"claim_id": record.claim_id, "status": settled.status})
    # The claim as just written, without reading it back.
    return dataclasses.replace(record, **values) if recorded else None


def _within_ledger(
    uow: UnitOfWork, record: ClaimRecord, evaluation: Evaluation, decision: Decision
) -> Decision:
    """The ledger guard: a payment never takes the year past what the ledger leaves,
    whatever Redis reserved. The year is locked (PostgreSQL: its enrollment row; SQLite
    writers are serialized already) until the payment is recorded, so two payments of one
    year are checked one after the other."""
    year = evaluation.year
    if decision.status != ClaimStatus.PAID or year is None:
        return decision
    uow.members.lock_year(year.enrollment_id)
    paid = uow.claims.paid_in_year(record.cardholder_id, year.enrollment_id)
    return within_ledger(evaluation, decision, paid)


def _heal_after_correction(
    rt: Runtime, record: ClaimRecord, evaluation: Evaluation, reserved: Decision, paid: Decision
) -> None:
    """Redis granted more than the ledger leaves: it has lost what it knew of this year.
    Count it, and rewrite the year's grants from the ledger (claims in flight kept)."""
    year = evaluation.year
    assert year is not None  # only a payment of a year is ever cut
    log.warning(
        "the ledger guard cut a payment Redis reserved",
        extra={
            "claim_id": record.claim_id,
            "reserved": reserved.amounts.program_paid,
            "paid": paid.amounts.program_paid,
        },
    )
    try:
        rt.accumulator.count_correction()
        accumulators.heal_year(rt, record.cardholder_id, year.enrollment_id)
    except redis.RedisError:  # the decision stands; the sweep's heal catches up
        log.warning("healing a year after a correction failed", extra={"claim_id": record.claim_id})


def sweep(rt: Runtime) -> int:
    """Heal the accumulators if Redis lost them, finish the reversals whose release a
    dead process or an absent Redis left pending, and re-enqueue claims left `received`
    (a lost message or a dead worker); how many were re-enqueued."""
    accumulators.heal_if_lost(rt)
    reversals.finish_pending(rt)
    if backlog := rt.decisions.backlog():
        # Claims older than the cutoff may just be waiting their turn behind a flood of
        # asynchronous ones: publishing them again would only lengthen the queue. Once
        # it has drained, a claim still `received` is one whose message was lost.
        log.info("sweep deferred: claims are queued", extra={"count": backlog})
        return 0
    cutoff = rt.ledger.now() - timedelta(seconds=rt.config.sweep_after_seconds)
    with rt.ledger.reading() as uow:
        stale = uow.claims.stale_received(cutoff)
    for claim_id in stale:
        rt.decisions.publish(claim_id)  # on `claims-async`: no request waits for it now
    if stale:
        log.warning("re-enqueued received claims", extra={"count": len(stale)})
    return len(stale)
