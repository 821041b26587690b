"""Payments (PAYMENTS.md): cycles (admin closes; staff read) and remittances (staff: all;
a pharmacy: its own, another's 404)."""

from __future__ import annotations

import io

from flask import current_app, request, url_for
from flask_smorest import Blueprint

from adjudicator.services import exports, payments, remittance_835
from adjudicator.web.auth import principal, require
from adjudicator.web.body import load_optional_json, load_query
from adjudicator.web.docs import BEARER, json_body, query_params
from adjudicator.web.runtime import runtime
from schemas.payments import (
    CycleListQuerySchema,
    CycleListSchema,
    CycleRequestSchema,
    CycleSchema,
    InvoiceSchema,
    RemittanceListQuerySchema,
    RemittanceListSchema,
    RemittanceSchema,
)

X12 = "application/EDI-X12"
CSV = "text/csv"
blp = Blueprint("payments", __name__, description="Pay pharmacies, cycle by cycle")


@blp.route("/payment-cycles", methods=["POST"])
@require("admin")
@blp.doc(security=BEARER, **json_body(CycleRequestSchema))
@blp.alt_response(201, schema=CycleSchema, success=True, description="Closed")
def close_cycle():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Close a payment cycle through a moment: one remittance per pharmacy."""
    body = load_optional_json(CycleRequestSchema())
    cycle = payments.close(runtime(), body.get("through"), principal().actor)
    location = url_for("payments.get_cycle", cycle_id=cycle["cycle_id"])
    return CycleSchema().dump(cycle), 201, {"Location": location}


@blp.route("/payment-cycles", methods=["GET"])
@require("reviewer")
@blp.doc(security=BEARER, **query_params(CycleListQuerySchema))
@blp.alt_response(200, schema=CycleListSchema, success=True)
def list_cycles():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Payment cycles, newest first."""
    query = load_query(CycleListQuerySchema())
    return CycleListSchema().dump(payments.list_cycles(runtime(), query["limit"], query["cursor"]))


@blp.route("/payment-cycles/<cycle_id>", methods=["GET"])
@require("reviewer")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=CycleSchema, success=True)
def get_cycle(cycle_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """One payment cycle's totals."""
    return CycleSchema().dump(payments.get_cycle(runtime(), cycle_id))


@blp.route("/payment-cycles/<cycle_id>/invoice", methods=["GET"])
@require("admin")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=InvoiceSchema, success=True)
def get_invoice(cycle_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """The manufacturer's invoice for a cycle: payments, reversals, adjustments, total due;
    with `Accept: text/csv`, one de-identified row per line (Safe Harbor, as the export)."""
    rt = runtime()
    invoice = payments.invoice(rt, cycle_id)  # 404 for an unknown cycle, whichever type
    if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
        out = io.StringIO()
        exports.write_invoice_csv(rt.ledger, cycle_id, out)
        return current_app.response_class(out.getvalue(), mimetype=CSV)
    return InvoiceSchema().dump(invoice)


@blp.route("/remittances", methods=["GET"])
@require("pharmacy", "reviewer")
@blp.doc(security=BEARER, **query_params(RemittanceListQuerySchema))
@blp.alt_response(200, schema=RemittanceListSchema, success=True)
def list_remittances():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Remittances, newest first, without their lines (a pharmacy: its own)."""
    query = load_query(RemittanceListQuerySchema())
    own = principal().npi
    page = payments.list_remittances(
        runtime(),
        cycle_id=query["cycle_id"],
        npi=own if own is not None else query["npi"],
        limit=query["limit"],
        cursor=query["cursor"],
    )
    if own is not None and query["npi"] not in (None, own):
        page = {"items": [], "next_cursor": None}  # another pharmacy's: nothing to see
    return RemittanceListSchema().dump(page)


@blp.route("/remittances/<remittance_id>", methods=["GET"])
@require("pharmacy", "reviewer")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=RemittanceSchema, success=True)
def get_remittance(remittance_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """A remittance with its lines."""
    view = payments.get_remittance(runtime(), remittance_id, npi=principal().npi)
    return RemittanceSchema().dump(view)


@blp.route("/remittances/<remittance_id>/835", methods=["GET"])
@require("pharmacy", "reviewer")
@blp.doc(
    security=BEARER,
    responses={
        "200": {"description": "The X12 835", "content": {X12: {"schema": {"type": "string"}}}}
    },
)
def get_remittance_835(remittance_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """The remittance as an X12 835 (005010X221A1) its pharmacy's books can post."""
    document = remittance_835.as_835(runtime(), remittance_id, npi=principal().npi)
    return current_app.response_class(document, mimetype=X12)
