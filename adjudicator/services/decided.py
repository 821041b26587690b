"""The columns a decision writes on its claim: one place for every path that decides."""

from __future__ import annotations

import secrets
from typing import Any

from adjudicator.domain.model import Decision, Evaluation
from adjudicator.domain.outcomes import ClaimStatus, ReviewState
from adjudicator.domain.records import ClaimRecord
from adjudicator.services import records
from adjudicator.services.runtime import Runtime


def outcome_columns(
    rt: Runtime, record: ClaimRecord, evaluation: Evaluation, decision: Decision
) -> dict[str, Any]:
    """The claim's columns for its decision."""
    paid = decision.status == ClaimStatus.PAID
    values: dict[str, Any] = {
        "status": decision.status,
        "decision": records.decision_record(decision),
        "enrollment_id": evaluation.year.enrollment_id if evaluation.year else None,
        "program_paid": decision.amounts.program_paid,
        "authorization_number": authorization_number() if paid else None,
        "paid_key": record.key.paid_key() if paid else None,
        "decided_at": rt.ledger.now(),
    }
    if not paid and decision.reviewable_rules:
        values["review_state"] = ReviewState.OPEN
        values["review"] = {"state": ReviewState.OPEN, "rules": list(decision.reviewable_rules)}
    return values


def authorization_number() -> str:
    return secrets.token_hex(6).upper()
