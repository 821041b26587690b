"""Deciding a B3 rebill, on the worker (NCPDP.md): the paid claim it replaces is given
back and the new content reserved in one Redis step, and the old claim's reversal and
the new claim's payment are one ledger transaction. All or nothing: when the new content
does not pay, the old claim stays paid and nothing of the new one is kept."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from adjudicator.domain import adjudicate as rules_of
from adjudicator.domain.adjudicate import evaluate, within_ledger
from adjudicator.domain.model import Claim, ClaimContext, Decision, Evaluation
from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.domain.records import ClaimRecord, ClaimToDecide
from adjudicator.domain.rules import reject
from adjudicator.domain.terms import Terms
from adjudicator.services import money, records, reversals
from adjudicator.services.decided import outcome_columns
from adjudicator.services.history import claim_event
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)


class _NotPaid(Exception):
    """The rebill's ledger transaction is rolled back; `decision` is what to answer
    (None: another writer settled the claim, and the request reads it)."""

    def __init__(self, decision: Decision | None) -> None:
        super().__init__("rebill not paid")
        self.decision = decision


def decide(
    rt: Runtime, found: ClaimToDecide, claim: Claim, context: ClaimContext, terms: Terms
) -> ClaimRecord | None:
    """The new claim as paid, or as refused (not stored); None when another attempt or
    the waiting request settled it first."""
    record = found.record
    replaced = record.rebill_of
    assert replaced is not None  # only rebills come here
    evaluation = evaluate(claim, context, terms)
    if found.paid_twin_id != replaced:  # reversed since the B3 was accepted
        return _refused(rt, record, _not_paid(evaluation))
    decision = _reserve(rt, record, evaluation, replaced)
    if decision.status != ClaimStatus.PAID:
        return _refused(rt, record, decision)  # Redis changed nothing
    try:
        values = _record(rt, record, evaluation, decision, replaced)
    except _NotPaid as refused:
        undo(rt, record, replaced)
        return _refused(rt, record, refused.decision) if refused.decision else None
    log.info("claim rebilled", extra={"claim_id": record.claim_id, "replaced": replaced})
    return dataclasses.replace(record, **values)


def _reserve(rt: Runtime, record: ClaimRecord, evaluation: Evaluation, replaced: str) -> Decision:
    year = evaluation.year
    if evaluation.rejects or year is None:
        return rules_of.decide(evaluation, used_before=0, granted=0)
    reservation = rt.accumulator.rebill(
        record.cardholder_id,
        year.enrollment_id,
        record.claim_id,
        evaluation.requested,
        evaluation.annual_max,
        replaces=replaced,
    )
    return rules_of.decide(
        evaluation, used_before=reservation.used_before, granted=reservation.granted
    )


def _record(
    rt: Runtime, record: ClaimRecord, evaluation: Evaluation, decision: Decision, replaced: str
) -> dict[str, Any]:
    """One transaction: the old claim reversed, the new one paid within what the ledger
    leaves of the year (the ledger guard); _NotPaid rolls both back."""
    year = evaluation.year
    assert year is not None  # a payment has a year
    with rt.ledger.writing() as uow:
        old = uow.claims.get(replaced, lock=True)
        if old is None or old.status != ClaimStatus.PAID:
            raise _NotPaid(_not_paid(evaluation))
        uow.members.lock_year(year.enrollment_id)
        now = rt.ledger.now()
        reversals.write_rebilled(uow, old, record.claim_id, now)
        paid = uow.claims.paid_in_year(record.cardholder_id, year.enrollment_id)
        settled = within_ledger(evaluation, decision, paid)
        if settled.status != ClaimStatus.PAID:
            raise _NotPaid(settled)
        values = outcome_columns(rt, record, evaluation, settled)
        if not uow.claims.set_outcome(record.claim_id, ClaimStatus.RECEIVED, **values):
            raise _NotPaid(None)
        money.record(uow, record, before=0, after=values["program_paid"])
        data = {
            "before": {"status": ClaimStatus.RECEIVED},
            "after": {"status": settled.status, "program_paid": values["program_paid"]},
            "rebill_of": replaced,
        }
        claim_event(uow, record, "decided", "system", data)
    return values


def undo(rt: Runtime, record: ClaimRecord, replaced: str) -> None:
    """Give Redis back what the rebill's step took, as the ledger now stands: nothing when
    another attempt paid the new claim; the old grant only while the ledger pays it."""
    with rt.ledger.reading() as uow:
        new = uow.claims.get(record.claim_id)
        old = uow.claims.get(replaced)
    if new is not None and new.status == ClaimStatus.PAID:
        return
    restore = old is not None and old.status == ClaimStatus.PAID
    rt.accumulator.undo_rebill(record.cardholder_id, record.claim_id, replaced, restore=restore)


def _refused(rt: Runtime, record: ClaimRecord, decision: Decision) -> ClaimRecord | None:
    """The rebill's answer when its content does not pay: the claim as decided, never
    stored (its `received` row and event go); None when it was settled meanwhile."""
    with rt.ledger.writing() as uow:
        discarded = uow.claims.discard(record.claim_id)
    if not discarded:
        return None
    return dataclasses.replace(
        record,
        status=decision.status,
        decision=records.decision_record(decision),
        program_paid=0,
    )


def _not_paid(evaluation: Evaluation) -> Decision:
    """84: the claim the rebill replaces is no longer paid."""
    code = reject("rebill", "84")
    rejected = dataclasses.replace(evaluation, rejects=(code,))
    return rules_of.decide(rejected, used_before=0, granted=0)
