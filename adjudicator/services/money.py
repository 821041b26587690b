"""Recording money events (PAYMENTS.md) beside the change that moves the money, and
checking that every claim's events add up to what the program owes for it now."""

from __future__ import annotations

from typing import Any

from adjudicator.domain.money import format_money
from adjudicator.domain.payments import money_moved
from adjudicator.domain.records import ClaimRecord
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import UnitOfWork


def record(uow: UnitOfWork, claim: ClaimRecord, *, before: int, after: int) -> None:
    """In the caller's transaction: the event of `claim` owing `after` where it owed
    `before` (owed amounts: domain.payments.owed_for); nothing when they are equal."""
    event = money_moved(claim.claim_id, claim.pharmacy_npi, before, after)
    if event is not None:
        uow.money.add([event])


def check(rt: Runtime, limit: int = 100) -> dict[str, Any]:
    """`adjudicator payments check`: PAYMENTS.md's invariants. The claims whose events do
    not add up to what is owed for them now, and the pharmacies whose remittances do not
    add up (paid + owed = remitted lines = their events in cycles)."""
    from adjudicator.services.payments import check_pharmacies

    with rt.ledger.reading() as uow:
        found = uow.money.mismatches(limit)
    return {
        "pharmacies": check_pharmacies(rt),
        "mismatches": [
            {
                "claim_id": m.claim_id,
                "events_total": format_money(m.events_total),
                "owed_now": format_money(m.owed_now),
            }
            for m in found
        ],
    }
