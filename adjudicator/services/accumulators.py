"""Compare the Redis accumulators with the ledger, and rebuild or heal them from it.

The ledger is the source of truth; Redis is the fast, atomic path in front of it. When
Redis comes back without what it knew (a fail-over to a replica that had not received
the writes, a lost AOF, a FLUSHALL), its epoch mark is gone: the sweep notices and heals
every accumulator from the ledger while claims go on, and until then the ledger guard
(services/adjudication.py) keeps every payment within what the ledger leaves.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from adjudicator.domain.outcomes import HOLD_NO_GRANT, ClaimStatus
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)
HEAL_BATCH = 200  # patient-years rewritten per Redis round trip


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
    rt.accumulator.record_check(len(mismatches))
    return {
        "checked_cardholders": len(cardholders),
        "mismatches": mismatches,
        "ledger_corrections": rt.accumulator.corrections(),
    }


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
    rt.accumulator.mark_epoch()
    return {"rebuilt_cardholders": len(expected), "cleared_cardholders": len(stale)}


def heal(rt: Runtime) -> dict[str, Any]:
    """Rewrite every year's grants from the ledger while claims go on: what a claim the
    ledger has not decided yet reserved (a claim in flight) is kept and counted."""
    years = []
    for cardholder_id, patient in _ledger_state(rt).items():
        paid: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
        released: dict[str, list[str]] = defaultdict(list)
        for claim_id, (year, cents, used_before) in patient["grants"].items():
            if claim_id in patient["released"]:
                released[year].append(claim_id)
            else:
                paid[year][claim_id] = (cents, used_before)
        held = set(paid) | set(released)
        years += [(cardholder_id, y, paid[y], released[y]) for y in held if y is not None]
    for start in range(0, len(years), HEAL_BATCH):
        rt.accumulator.commit_replay_many(years[start : start + HEAL_BATCH])
    return {"healed_years": len(years)}


def heal_if_lost(rt: Runtime) -> bool:
    """Heal every accumulator when Redis has lost its epoch mark (the sweep asks)."""
    if not rt.accumulator.mark_epoch():
        return False
    log.warning("the accumulators' epoch mark was missing: healing them from the ledger")
    heal(rt)
    return True


def heal_year(rt: Runtime, cardholder_id: str, enrollment_id: str) -> int:
    """One year's grants rewritten from the ledger (after the guard cut a payment),
    keeping claims in flight; the year's used amount in Redis afterwards."""
    with rt.ledger.reading() as uow:
        claims = uow.claims.in_year(cardholder_id, enrollment_id)
    paid = {
        c.claim_id: (c.program_paid, c.used_before) for c in claims if c.status == ClaimStatus.PAID
    }
    settled = [c.claim_id for c in claims if c.status in HOLD_NO_GRANT]
    return rt.accumulator.commit_replay_many([(cardholder_id, enrollment_id, paid, settled)])[0]
