"""A claim's history: an append-only list of events, written with what it records."""

from __future__ import annotations

from adjudicator.domain.records import JSON, ClaimRecord
from adjudicator.services.unit_of_work import ClaimRef, UnitOfWork


def claim_event(
    uow: UnitOfWork,
    claim: ClaimRecord | ClaimRef,
    type_: str,
    actor: str,
    data: JSON | None = None,
) -> None:
    uow.events.add(
        actor=actor,
        entity_type="claim",
        entity_id=claim.claim_id,
        cardholder_id=claim.cardholder_id,
        type=type_,
        data=data or {},
    )
