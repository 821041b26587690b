"""Hub review of claims, and the audit trail."""

from __future__ import annotations

from flask_smorest import Blueprint

from adjudicator.services import audit, claim_queries, review
from adjudicator.web.auth import principal, require
from adjudicator.web.body import load_json, load_query
from adjudicator.web.docs import BEARER, json_body, query_params
from adjudicator.web.runtime import runtime
from schemas.audit import AuditPageSchema, AuditQuerySchema
from schemas.claims import DecisionSchema
from schemas.review import ReviewRequestSchema

blp = Blueprint("review", __name__, description="Review claims; read the audit trail")


@blp.route("/claims/<claim_id>/review", methods=["POST"])
@require("reviewer")
@blp.doc(security=BEARER, **json_body(ReviewRequestSchema))
@blp.alt_response(200, schema=DecisionSchema, success=True)
def review_claim(claim_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Approve (re-adjudicate with patient_age/dose overridden) or deny, with a note."""
    body = load_json(ReviewRequestSchema())
    rt = runtime()
    row = review.review(rt, claim_id, body["action"], body["note"], principal().name)
    return DecisionSchema().dump(claim_queries.present(rt, row, npi=None))  # hub staff


@blp.route("/audit", methods=["GET"])
@require("admin")
@blp.doc(security=BEARER, **query_params(AuditQuerySchema))
@blp.alt_response(200, schema=AuditPageSchema, success=True)
def audit_trail():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Every write (enrollments, decisions, reversals, reviews), oldest first."""
    query = load_query(AuditQuerySchema())
    return AuditPageSchema().dump(audit.events(runtime(), query))
