"""Terms versions (admin): list, read one, post a new one."""

from __future__ import annotations

from flask_smorest import Blueprint

from adjudicator.services import terms
from adjudicator.web.auth import principal, require
from adjudicator.web.body import load_json
from adjudicator.web.docs import BEARER, json_body
from adjudicator.web.runtime import runtime
from schemas.terms import TermsDocumentSchema, TermsListSchema

blp = Blueprint("terms", __name__, description="The program terms, as versioned data")


@blp.route("/terms", methods=["GET"])
@require("admin")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=TermsListSchema, success=True)
def list_terms():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Every terms version, oldest first."""
    return TermsListSchema().dump({"items": terms.summaries(runtime().ledger)})


@blp.route("/terms/<version>", methods=["GET"])
@require("admin")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=TermsDocumentSchema, success=True)
def get_terms(version: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Exactly the terms document: change a value and post it as a new version."""
    return terms.document(runtime().ledger, version)


@blp.route("/terms", methods=["POST"])
@require("admin")
@blp.doc(security=BEARER, **json_body(TermsDocumentSchema))
@blp.alt_response(201, schema=TermsDocumentSchema, success=True)
def create_terms():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """A new terms version; claims on or after its effective date are decided under it."""
    schema = TermsDocumentSchema()
    # Stored as the schema reads it: "j2170", "ma" or a hyphenated NDC would otherwise be
    # kept as posted, and never match a claim's upper-case, unhyphenated codes.
    document = schema.dump(load_json(schema))
    document = terms.create(runtime().ledger, document, principal().name)
    return document, 201
