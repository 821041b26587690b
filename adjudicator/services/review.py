"""Hub review of claims rejected by reviewable rules (patient age, dose)."""

from __future__ import annotations

from typing import Any

from adjudicator.domain.outcomes import ClaimStatus, ReviewState
from adjudicator.domain.records import ClaimRecord
from adjudicator.services import adjudication
from adjudicator.services.claim_queries import read_claim
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.history import claim_event
from adjudicator.services.runtime import Runtime


def review(rt: Runtime, claim_id: str, action: str, note: str, username: str) -> ClaimRecord:
    """Approve (re-adjudicate with the reviewable rules overridden) or deny, with a note."""
    approve = action == "approve"
    with rt.ledger.writing() as uow:
        claim = uow.claims.get(claim_id)
        if claim is None:
            raise NotFound("claim not found")
        if claim.review_state != ReviewState.OPEN:
            raise Conflict("only a claim with an open review (patient_age, dose) can be reviewed")
        state = ReviewState.APPROVED if approve else ReviewState.DENIED
        outcome = {
            "state": state,
            "note": note,
            "by": username,
            "at": rt.ledger.now().isoformat(),
            "rules": (claim.review or {}).get("rules", []),
        }
        values: dict[str, Any] = {"review_state": state, "review": outcome}
        if approve:
            # Back to `received`: the worker path decides it again, cap and all, with
            # `review.rules` as overrides. paid_key stays unset until it is paid.
            values["status"] = ClaimStatus.RECEIVED
        if not uow.claims.set_outcome(claim_id, ClaimStatus.REJECTED, review_open=True, **values):
            raise Conflict("the claim's review was closed by someone else meanwhile")
        data = {"note": note, "before": claim.decision, "rules": outcome["rules"]}
        # The actor is spelled as in every other audit event.
        claim_event(uow, claim, f"review_{state}", f"user:{username}", data)
    if approve:
        adjudication.adjudicate(rt, claim_id)
    return read_claim(rt, claim_id)  # type: ignore[return-value]  # claims are never deleted
