"""Hub review of claims rejected by reviewable rules (patient age, dose)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services import adjudication
from adjudicator.services.errors import Conflict, NotFound
from adjudicator.services.runtime import Runtime


def review(rt: Runtime, claim_id: str, action: str, note: str, username: str) -> Row[Any]:
    """Approve (re-adjudicate with the reviewable rules overridden) or deny, with a note."""
    with rt.engine.begin() as conn:
        row = ledger.claim(conn, claim_id)
        if row is None:
            raise NotFound("claim not found")
        if row.review_state != "open":
            raise Conflict("only a claim with an open review (patient_age, dose) can be reviewed")
        outcome = {
            "state": "approved" if action == "approve" else "denied",
            "note": note,
            "by": username,
            "at": ledger.now().isoformat(),
            "rules": (row.review or {}).get("rules", []),
        }
        values: dict[str, Any] = {"review_state": outcome["state"], "review": outcome}
        if action == "approve":
            # Back to `received`: the worker path decides it again, cap and all, with
            # `review.rules` as overrides. paid_key stays unset until it is paid.
            values["status"] = "received"
        if not ledger.set_claim_outcome(conn, claim_id, "rejected", review_open=True, **values):
            raise Conflict("the claim's review was closed by someone else meanwhile")
        ledger.add_event(
            conn,
            actor=f"user:{username}",  # the same spelling as every other audit event
            entity_type="claim",
            entity_id=claim_id,
            cardholder_id=row.cardholder_id,
            type="review_" + outcome["state"],
            data={"note": note, "before": row.decision, "rules": outcome["rules"]},
        )
    if action == "approve":
        adjudication.adjudicate(rt, claim_id)
    with reading(rt.engine) as conn:
        return ledger.claim(conn, claim_id)  # type: ignore[return-value]  # it exists: reviewed above
