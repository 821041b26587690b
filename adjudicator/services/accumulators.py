"""Compare the Redis accumulators with the ledger, and rebuild them from it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.services.runtime import Runtime


def _ledger_state(rt: Runtime) -> dict[str, dict[str, Any]]:
    """Per cardholder: used per year, grants and released claims, as the ledger says."""
    state: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"used": defaultdict(int), "grants": {}, "released": set()}
    )
    with rt.ledger.reading() as uow:
        for row in uow.claims.grants():
            patient = state[row.cardholder_id]
            paid = row.status == ClaimStatus.PAID
            used_before = row.used_before if paid else 0
            patient["grants"][row.claim_id] = (row.enrollment_id, row.program_paid, used_before)
            if paid:
                patient["used"][row.enrollment_id] += row.program_paid
            else:
                patient["released"].add(row.claim_id)
    return state


def check(rt: Runtime) -> dict[str, Any]:
    """Every year whose Redis total differs from the sum of its paid claims."""
    expected = _ledger_state(rt)
    cardholders = set(expected) | set(rt.accumulator.cardholders())
    mismatches = []
    for cardholder_id in sorted(cardholders):
        ledger_used = dict(expected[cardholder_id]["used"]) if cardholder_id in expected else {}
        redis_used = rt.accumulator.snapshot(cardholder_id)["used"]
        for year in sorted(set(ledger_used) | set(redis_used)):
            in_ledger, in_redis = ledger_used.get(year, 0), redis_used.get(year, 0)
            if in_ledger != in_redis:
                mismatches.append(
                    {"enrollment_id": year, "ledger_used": in_ledger, "redis_used": in_redis}
                )
    return {"checked_cardholders": len(cardholders), "mismatches": mismatches}


def rebuild(rt: Runtime) -> dict[str, Any]:
    """Overwrite every accumulator with what the ledger says (run with claims paused)."""
    expected = _ledger_state(rt)
    stale = set(rt.accumulator.cardholders()) - set(expected)
    for cardholder_id, patient in expected.items():
        rt.accumulator.replace(
            cardholder_id, dict(patient["used"]), patient["grants"], patient["released"]
        )
    for cardholder_id in stale:
        rt.accumulator.replace(cardholder_id, {}, {}, set())
    return {"rebuilt_cardholders": len(expected), "cleared_cardholders": len(stale)}
