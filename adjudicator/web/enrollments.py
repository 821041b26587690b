"""Enrollments and remaining benefit (hub staff)."""

from __future__ import annotations

from datetime import date

from flask import request
from flask_smorest import Blueprint

from adjudicator.services import enrollments
from adjudicator.web.auth import principal, require
from adjudicator.web.body import load_json, load_query
from adjudicator.web.docs import BEARER, json_body, query_params
from adjudicator.web.runtime import runtime
from schemas.enrollments import (
    BenefitQuerySchema,
    BenefitResponseSchema,
    EnrollmentPatchSchema,
    EnrollmentRequestSchema,
    EnrollmentResponseSchema,
)

blp = Blueprint("enrollments", __name__, description="Enroll patients; see what is left")


@blp.route("/enrollments", methods=["POST"])
@require("reviewer")
@blp.doc(security=BEARER, **json_body(EnrollmentRequestSchema))
@blp.alt_response(201, schema=EnrollmentResponseSchema, success=True)
def create_enrollment():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Enroll a patient for one year (or the next year of an existing member)."""
    data = load_json(EnrollmentRequestSchema())
    view = enrollments.enroll(runtime(), data, principal().actor)
    return EnrollmentResponseSchema().dump(view), 201


@blp.route("/enrollments/<enrollment_id>", methods=["GET"])
@require("reviewer")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=EnrollmentResponseSchema, success=True)
def get_enrollment(enrollment_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """One enrollment year."""
    return EnrollmentResponseSchema().dump(enrollments.get(runtime(), enrollment_id))


@blp.route("/enrollments/<enrollment_id>", methods=["PATCH"])
@require("reviewer")
@blp.doc(security=BEARER, **json_body(EnrollmentPatchSchema))
@blp.alt_response(200, schema=EnrollmentResponseSchema, success=True)
def patch_enrollment(enrollment_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Change coverage, attestations, address or weight; status is recomputed."""
    changes = load_json(EnrollmentPatchSchema())
    view = enrollments.update(runtime(), enrollment_id, changes, principal().actor)
    return EnrollmentResponseSchema().dump(view)


@blp.route("/members/<cardholder_id>/benefit", methods=["GET"])
@require("reviewer")
@blp.doc(security=BEARER, **query_params(BenefitQuerySchema))
@blp.alt_response(200, schema=BenefitResponseSchema, success=True)
def member_benefit(cardholder_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Used and remaining benefit of the enrollment year containing `date` (default today)."""
    query = load_query(BenefitQuerySchema()) if request.args else {}
    on = query.get("date") or date.today()
    return BenefitResponseSchema().dump(enrollments.benefit(runtime(), cardholder_id, on))
