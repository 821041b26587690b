"""Reversals (NCPDP B2): a paid claim's program_paid goes back to its year, once."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import redis

from adjudicator.domain.outcomes import REVERSIBLE, ClaimStatus, NcpdpKey, reversed_benefit
from adjudicator.domain.records import JSON, ClaimRecord
from adjudicator.services import money
from adjudicator.services.claim_queries import read_claim
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.history import claim_event
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import ClaimRef, UnitOfWork

log = logging.getLogger(__name__)


def reverse(rt: Runtime, claim_id: str, npi: str, actor: str) -> ClaimRecord:
    """Give a paid claim's program_paid back to its year, exactly once.

    The ledger says so first, then Redis follows: had Redis gone first, a crash between the
    two would leave a claim the ledger counts as paid while its year could be paid again
    (over the annual maximum). This way a crash, or Redis being away, leaves Redis holding
    more than the ledger, which pays nobody twice, and the release pending until a retry
    of the reversal or the sweep gives it back (decisions.md #78).
    """
    claim = read_claim(rt, claim_id)
    if claim is None or claim.pharmacy_npi != npi:
        raise NotFound("claim not found")
    if claim.status not in REVERSIBLE:
        raise Conflict(
            "Claim Has Not Been Paid/Captured (NCPDP 84): only a paid claim can be reversed"
        )
    wrote = False
    if claim.status == ClaimStatus.PAID:
        with rt.ledger.writing() as uow:
            current = uow.claims.get(claim_id, lock=True)  # as it is now, not as read
            wrote = current is not None and current.status == ClaimStatus.PAID
            if wrote:
                _write_reversal(uow, current, actor, rt.ledger.now())  # type: ignore[arg-type]  # checked above
    if wrote or claim.release_pending:  # else a concurrent reversal finishes it
        finish(rt, claim)
    return read_claim(rt, claim_id)  # type: ignore[return-value]  # claims are never deleted


def _write_reversal(
    uow: UnitOfWork,
    claim: ClaimRecord,
    actor: str,
    now: datetime,
    *,
    rebilled_by: str | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": ClaimStatus.REVERSED,
        "paid_key": None,
        "decision": _reversed_decision(uow, claim),
    }
    if rebilled_by is not None:  # the rebill's Redis step gave the grant back already
        values["released_at"] = now
    uow.claims.set_outcome(claim.claim_id, ClaimStatus.PAID, reversed_at=now, **values)
    money.record(uow, claim, before=claim.program_paid, after=0)
    data: dict[str, Any] = {
        "before": {"status": ClaimStatus.PAID, "program_paid": claim.program_paid},
        "after": {"status": ClaimStatus.REVERSED, "released": claim.program_paid},
    }
    if rebilled_by is not None:
        data["rebilled_by"] = rebilled_by
    claim_event(uow, claim, "reversed", actor, data)


def write_rebilled(uow: UnitOfWork, claim: ClaimRecord, new_claim_id: str, now: datetime) -> None:
    """Reverse a paid claim a B3 replaces, in the transaction that pays the new claim;
    its event names the new claim."""
    _write_reversal(uow, claim, "system", now, rebilled_by=new_claim_id)


def finish(rt: Runtime, claim: ClaimRecord | ClaimRef) -> None:
    """Give a reversed claim's grant back in Redis, then mark it given back; left pending,
    for the sweep, while Redis cannot be reached. Both steps are idempotent: a second
    finish changes nothing."""
    try:
        rt.accumulator.release(claim.cardholder_id, claim.claim_id)  # at most once, by id
    except redis.RedisError:
        log.warning("reversal's release left to the sweep", extra={"claim_id": claim.claim_id})
        return
    with rt.ledger.writing() as uow:
        uow.claims.mark_released(claim.claim_id)


def finish_pending(rt: Runtime) -> int:
    """Finish every reversal whose release a dead process or an absent Redis left
    pending (the sweep calls this)."""
    with rt.ledger.reading() as uow:
        pending = uow.claims.reversals_to_release()
    for claim in pending:
        finish(rt, claim)
    return len(pending)


def _reversed_decision(uow: UnitOfWork, claim: ClaimRecord) -> JSON:
    """The claim's decision, reversed, with its year's use just before and after this
    reversal as the ledger counts it (decisions.md #8), not as when it was paid."""
    decision = dict(claim.decision or {})
    decision["status"] = ClaimStatus.REVERSED
    if decision.get("benefit") and claim.enrollment_id:
        used_before = uow.claims.paid_in_year(claim.cardholder_id, claim.enrollment_id)
        decision["benefit"] = reversed_benefit(decision["benefit"], used_before, claim.program_paid)
    return decision


def find_by_key(rt: Runtime, key: NcpdpKey) -> str:
    """The id of the claim a key-based reversal means: the paid one, else the reversed one."""
    with rt.ledger.reading() as uow:
        claims = uow.claims.with_key(key)
    for status in (ClaimStatus.PAID, ClaimStatus.REVERSED):
        for claim in reversed(claims):
            if claim.status == status:
                return claim.claim_id
    if claims:
        return claims[-1].claim_id
    raise NotFound("no claim with that service provider, Rx number, fill number and date")
