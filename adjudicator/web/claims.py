"""Claims: submit, read, list, reverse (pharmacies; hub staff read all)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for
from flask_smorest import Blueprint

from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey
from adjudicator.services import claim_queries, intake, reversals
from adjudicator.services.errors import Forbidden
from adjudicator.services.intake import Answer
from adjudicator.web.auth import principal, require
from adjudicator.web.body import load_json, load_optional_json, load_query
from adjudicator.web.docs import BEARER, json_body, query_params
from adjudicator.web.runtime import runtime
from schemas.claims import (
    ClaimListQuerySchema,
    ClaimListSchema,
    ClaimRequestSchema,
    DecisionSchema,
    ReversalByKeySchema,
)
from schemas.common import StrictSchema

blp = Blueprint("claims", __name__, description="Bill, read and reverse claims")

# Built once: schema construction costs as much as a small claim's validation.
_CLAIM_REQUEST = ClaimRequestSchema()
_DECISION = DecisionSchema()
_NO_FIELDS = StrictSchema()  # the reversal by id takes its claim from the path


@blp.route("/claims", methods=["POST"])
@require("pharmacy")
@blp.doc(security=BEARER, **json_body(ClaimRequestSchema))
@blp.alt_response(200, schema=DecisionSchema, success=True, description="Decided")
@blp.alt_response(202, schema=DecisionSchema, description="Accepted, still `received`")
def submit_claim():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Bill a claim (NCPDP B1); answers the decision, or 202 while it is being decided."""
    data = load_json(_CLAIM_REQUEST)
    if data["service_provider_id"] != principal().npi:
        raise Forbidden("service_provider_id must be your own pharmacy's NPI")
    rt = runtime()
    asynchronous = "respond-async" in request.headers.get("Prefer", "").lower()
    submitted = intake.submit_claim(rt, data, wait=None if asynchronous else rt.config.sync_timeout)
    if submitted.claim is None:  # the worker rendered the decision: no read-back needed
        return current_app.response_class(submitted.rendered, mimetype="application/json")
    view = claim_queries.present(rt, submitted.claim, npi=principal().npi)
    if submitted.answer is Answer.ACCEPTED:
        return _accepted(view)
    return _decision(view, as_duplicate=submitted.answer is Answer.DUPLICATE)


@blp.route("/claims/<claim_id>", methods=["GET"])
@require("pharmacy", "reviewer")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=DecisionSchema, success=True)
def get_claim(claim_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """A claim's decision and its history of events."""
    view = claim_queries.get(runtime(), claim_id, npi=principal().npi, with_events=True)
    return _DECISION.dump(view)


@blp.route("/claims", methods=["GET"])
@require("pharmacy", "reviewer")
@blp.doc(security=BEARER, **query_params(ClaimListQuerySchema))
@blp.alt_response(200, schema=ClaimListSchema, success=True)
def list_claims():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Claims, newest first (the open review queue oldest first), with a cursor."""
    query = load_query(ClaimListQuerySchema())
    page = claim_queries.listing(runtime(), query, npi=principal().npi)
    return ClaimListSchema().dump(page)


@blp.route("/claims/<claim_id>/reversal", methods=["POST"])
@require("pharmacy")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=DecisionSchema, success=True)
def reverse_claim(claim_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Reverse a paid claim (NCPDP B2): its program_paid goes back to its year, once."""
    load_optional_json(_NO_FIELDS)  # no body, or `{}`: any field in it is unknown (422)
    return _reverse(claim_id)


@blp.route("/reversals", methods=["POST"])
@require("pharmacy")
@blp.doc(security=BEARER, **json_body(ReversalByKeySchema))
@blp.alt_response(200, schema=DecisionSchema, success=True)
def reverse_by_key():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Reverse the claim found by service provider, Rx number, fill number and date."""
    key = load_json(ReversalByKeySchema())
    if key["service_provider_id"] != principal().npi:
        raise Forbidden("service_provider_id must be your own pharmacy's NPI")
    claim_id = reversals.find_by_key(
        runtime(),
        NcpdpKey(
            key["service_provider_id"],
            key["rx_number"],
            key["fill_number"],
            key["date_of_service"],
        ),
    )
    return _reverse(claim_id)


def _reverse(claim_id: str) -> Any:
    rt = runtime()
    me = principal()
    row = reversals.reverse(rt, claim_id, npi=me.npi or "", actor=me.actor)
    return _DECISION.dump(claim_queries.present(rt, row, npi=me.npi))


def _decision(view: dict[str, Any], *, as_duplicate: bool) -> Any:
    if as_duplicate:
        view = {**view, "status": ClaimStatus.DUPLICATE}
    return _DECISION.dump(view)


def _accepted(view: dict[str, Any]) -> Any:
    location = url_for("claims.get_claim", claim_id=view["claim_id"])
    return _DECISION.dump(view), 202, {"Location": location}
