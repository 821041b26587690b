"""Reversals (NCPDP B2): a paid claim's program_paid goes back to its year, once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Row

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services.claims import claim_event, read_claim
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.runtime import Runtime


def reverse(rt: Runtime, claim_id: str, npi: str, actor: str) -> Row[Any]:
    """Give a paid claim's program_paid back to its year, exactly once.

    The ledger says so first, then Redis follows: had Redis gone first, a crash between the
    two would leave a claim the ledger counts as paid while its year could be paid again
    (over the annual maximum). This way a crash leaves Redis holding more than the ledger,
    which pays nobody twice, until a retry of the reversal or the sweep gives it back.
    """
    row = read_claim(rt, claim_id)
    if row is None or row.pharmacy_npi != npi:
        raise NotFound("claim not found")
    if row.status == "reversed":
        give_back(rt, row)  # a reversal cut short before its release ends here
        return row
    if row.status != "paid":
        raise Conflict(
            "Claim Has Not Been Paid/Captured (NCPDP 84): only a paid claim can be reversed"
        )
    with rt.engine.begin() as conn:
        decision = _reversed_decision(conn, row)
        values = {"status": "reversed", "paid_key": None, "decision": decision}
        if ledger.set_claim_outcome(conn, claim_id, "paid", reversed_at=ledger.now(), **values):
            data = {
                "before": {"status": "paid", "program_paid": row.program_paid},
                "after": {"status": "reversed", "released": row.program_paid},
            }
            claim_event(conn, claim_id, row.cardholder_id, "reversed", actor, data)
    give_back(rt, row)
    return read_claim(rt, claim_id)  # type: ignore[return-value]


def give_back(rt: Runtime, row: Any) -> None:
    """Release a reversed claim's grant in Redis; a no-op once done (by claim id)."""
    rt.accumulator.release(row.cardholder_id, row.claim_id)


def _reversed_decision(conn: Connection, row: Row[Any]) -> dict[str, Any]:
    """The claim's decision, reversed, with its year's use just before and after this
    reversal as the ledger counts it (decisions.md #8), not as when it was paid."""
    decision = dict(row.decision)
    decision["status"] = "reversed"
    if decision.get("benefit") and row.enrollment_id:
        used_before = ledger.paid_in_year(conn, row.cardholder_id, row.enrollment_id)
        used_after = used_before - row.program_paid
        benefit = dict(decision["benefit"])
        benefit.update(used_before=used_before, used_after=used_after)
        benefit["remaining"] = max(benefit["annual_max"] - used_after, 0)
        decision["benefit"] = benefit
    return decision


def finish_recent(rt: Runtime, within: timedelta) -> int:
    """Release the grants of claims reversed lately: a reversal whose process died between
    its ledger write and its release is finished here (the sweep calls this)."""
    with reading(rt.engine) as conn:
        recent = ledger.reversed_since(conn, ledger.now() - within)
    for row in recent:
        give_back(rt, row)
    return len(recent)


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
