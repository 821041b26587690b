"""Reversals (NCPDP B2): a paid claim's program_paid goes back to its year, once."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Row

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services.claims import claim_event, read_claim
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.runtime import Runtime


def reverse(rt: Runtime, claim_id: str, npi: str, actor: str) -> Row[Any]:
    """Give a paid claim's program_paid back to its year, exactly once."""
    row = read_claim(rt, claim_id)
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
            claim_event(conn, claim_id, row.cardholder_id, "reversed", actor, data)
    return read_claim(rt, claim_id)  # type: ignore[return-value]


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
