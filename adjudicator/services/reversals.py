"""Reversals (NCPDP B2): a paid claim's program_paid goes back to its year, once."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import redis
from sqlalchemy import Connection, Row

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services.claims import claim_event, read_claim
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)


def reverse(rt: Runtime, claim_id: str, npi: str, actor: str) -> Row[Any]:
    """Give a paid claim's program_paid back to its year, exactly once.

    The ledger says so first, then Redis follows: had Redis gone first, a crash between the
    two would leave a claim the ledger counts as paid while its year could be paid again
    (over the annual maximum). This way a crash, or Redis being away, leaves Redis holding
    more than the ledger, which pays nobody twice, and the release pending until a retry
    of the reversal or the sweep gives it back (decisions.md #78).
    """
    row = read_claim(rt, claim_id)
    if row is None or row.pharmacy_npi != npi:
        raise NotFound("claim not found")
    if row.status not in ("paid", "reversed"):
        raise Conflict(
            "Claim Has Not Been Paid/Captured (NCPDP 84): only a paid claim can be reversed"
        )
    wrote = False
    if row.status == "paid":
        with rt.engine.begin() as conn:
            current = ledger.claim(conn, claim_id, lock=True)  # as it is now, not as read
            wrote = current is not None and current.status == "paid"
            if wrote:
                _write_reversal(conn, current, actor)
    if wrote or _release_pending(row):  # else a concurrent reversal finishes it
        finish(rt, row)
    return read_claim(rt, claim_id)  # type: ignore[return-value]  # it exists: read above


def _release_pending(row: Row[Any]) -> bool:
    return row.status == "reversed" and row.reversed_at is not None and row.released_at is None


def _write_reversal(conn: Connection, claim: Row[Any], actor: str) -> None:
    values = {"status": "reversed", "paid_key": None, "decision": _reversed_decision(conn, claim)}
    ledger.set_claim_outcome(conn, claim.claim_id, "paid", reversed_at=ledger.now(), **values)
    data = {
        "before": {"status": "paid", "program_paid": claim.program_paid},
        "after": {"status": "reversed", "released": claim.program_paid},
    }
    claim_event(conn, claim.claim_id, claim.cardholder_id, "reversed", actor, data)


def finish(rt: Runtime, row: Any) -> None:
    """Give a reversed claim's grant back in Redis (`row`: its claim_id and cardholder_id),
    then mark it given back; left pending, for the sweep, while Redis cannot be reached.
    Both steps are idempotent: a second finish changes nothing."""
    try:
        rt.accumulator.release(row.cardholder_id, row.claim_id)  # at most once, by claim id
    except redis.RedisError:
        log.warning("reversal's release left to the sweep", extra={"claim_id": row.claim_id})
        return
    with rt.engine.begin() as conn:
        ledger.mark_released(conn, row.claim_id)


def finish_pending(rt: Runtime) -> int:
    """Finish every reversal whose release a dead process or an absent Redis left
    pending (the sweep calls this)."""
    with reading(rt.engine) as conn:
        pending = ledger.reversals_to_release(conn)
    for row in pending:
        finish(rt, row)
    return len(pending)


def _reversed_decision(conn: Connection, claim: Row[Any]) -> dict[str, Any]:
    """The claim's decision, reversed, with its year's use just before and after this
    reversal as the ledger counts it (decisions.md #8), not as when it was paid."""
    decision = dict(claim.decision)
    decision["status"] = "reversed"
    if decision.get("benefit") and claim.enrollment_id:
        used_before = ledger.paid_in_year(conn, claim.cardholder_id, claim.enrollment_id)
        used_after = max(used_before - claim.program_paid, 0)
        benefit = dict(decision["benefit"])
        benefit.update(used_before=used_before, used_after=used_after)
        benefit["remaining"] = max(benefit["annual_max"] - used_after, 0)
        decision["benefit"] = benefit
    return decision


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
