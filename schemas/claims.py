"""Claims: POST /v1/claims, reversals by NCPDP key, the list query and the decision."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_dump, validate, validates_schema

from adjudicator.domain.money import MAX_CENTS
from adjudicator.domain.outcomes import CHANNELS, ClaimStatus, ReviewState
from schemas.common import ReasonSchema, StrictSchema, text
from schemas.enrollments import BIN_MESSAGE, BIN_PATTERN, PCN_MESSAGE, PCN_PATTERN
from schemas.fields import (
    Code,
    Decimal3,
    EventData,
    IsoDate,
    Money,
    Npi,
    StrictInteger,
    Text,
    Timestamp,
    normalize_drug_code,
    normalize_service_code,
    not_in_future,
)

__all__ = [
    "CLAIM_STATUSES",
    "ClaimListQuerySchema",
    "ClaimListSchema",
    "ClaimRequestSchema",
    "DecisionSchema",
    "LineSchema",
    "ReversalByKeySchema",
    "decision_json",
]

CLAIM_STATUSES = tuple(status.value for status in ClaimStatus)
REVIEW_STATES = tuple(state.value for state in ReviewState)
LINE_KINDS = ("drug", "service")
NO_OTHER_COVERAGE = 1


def _line_code(kind: str, code: str) -> str:
    """The normalized code of a line, or ValueError with a message for the client."""
    return normalize_drug_code(code) if kind == "drug" else normalize_service_code(code)


class LineSchema(StrictSchema):
    """A claim line. Drug lines need quantity and days_supply; their code is an NDC
    (hyphens stripped) or a HCPCS code (upper case). Service lines may carry them."""

    kind = Text(required=True, validate=validate.OneOf(LINE_KINDS))
    code = Text(required=True, validate=text(20))
    patient_responsibility = Money(required=True)
    quantity = Decimal3(load_default=None)
    days_supply = StrictInteger(load_default=None, validate=validate.Range(1, 365))

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _drug_line_needs(self, line: Mapping[str, Any], original: Any, **kwargs: Any) -> None:
        if not isinstance(original, Mapping) or line.get("kind") not in LINE_KINDS:
            return
        errors: dict[str, list[str]] = {}
        if isinstance(line.get("code"), str):
            try:
                _line_code(line["kind"], line["code"])
            except ValueError as error:
                errors["code"] = [str(error)]
        if line["kind"] == "drug":
            if original.get("quantity") is None:
                errors["quantity"] = ['Drug lines need a quantity in mL, e.g. "8.000".']
            if original.get("days_supply") is None:
                errors["days_supply"] = ["Drug lines need days_supply (1-365)."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _normalize_code(self, line: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**line, "code": _line_code(line["kind"], line["code"])}


class ClaimPatientSchema(StrictSchema):
    date_of_birth = IsoDate(required=True, validate=not_in_future)


class CobSchema(StrictSchema):
    """Coordination of benefits (NCPDP 308-C8 and the other payer)."""

    other_coverage_code = StrictInteger(required=True, validate=validate.Range(0, 99))
    other_payer_bin = Code(BIN_PATTERN, message=BIN_MESSAGE, load_default=None)
    other_payer_pcn = Code(PCN_PATTERN, message=PCN_MESSAGE, load_default=None)
    other_payer_reject_codes = fields.List(
        Code(r"[A-Za-z0-9]{1,3}", message='A reject code is 1 to 3 letters or digits, e.g. "70".'),
        load_default=list,
        validate=validate.Length(max=5),
    )


def _no_other_coverage() -> dict[str, Any]:
    return {
        "other_coverage_code": NO_OTHER_COVERAGE,
        "other_payer_bin": None,
        "other_payer_pcn": None,
        "other_payer_reject_codes": [],
    }


class ClaimRequestSchema(StrictSchema):
    """POST /v1/claims. Loads to a plain dict with every key present::

        {"transaction_code": "B1",
         "cardholder_id": str,
         "group_id": str | None,
         "service_provider_id": str (10-digit NPI),
         "prescriber_npi": str | None,
         "rx_number": str,
         "fill_number": int (0-99),
         "date_of_service": date (not after today),
         "patient": {"date_of_birth": date} | None,
         "cob": {"other_coverage_code": int, "other_payer_bin": str | None,
                 "other_payer_pcn": str | None, "other_payer_reject_codes": list[str]},
         "lines": [{"kind": "drug" | "service",
                    "code": str (NDC as 11 digits, HCPCS/CPT upper case),
                    "patient_responsibility": int (cents),
                    "quantity": Decimal (3 places) | None,
                    "days_supply": int | None}],
         "diagnosis_code": str | None}

    An absent (or null) `cob` loads as other coverage code 1 with no other payer, so
    two requests that differ only by that normalization load equal.
    """

    transaction_code = Text(
        load_default="B1",
        validate=validate.OneOf(
            ["B1"],
            error='Must be "B1": reversals have their own endpoints '
            "(POST /v1/claims/<claim_id>/reversal, POST /v1/reversals).",
        ),
    )
    cardholder_id = Text(required=True, validate=text(64))
    group_id = Text(load_default=None, validate=text(15))
    service_provider_id = Npi(required=True)
    prescriber_npi = Npi(load_default=None)
    rx_number = Text(required=True, validate=text(32))
    fill_number = StrictInteger(required=True, validate=validate.Range(0, 99))
    date_of_service = IsoDate(required=True, validate=not_in_future)
    patient = fields.Nested(ClaimPatientSchema, load_default=None)
    cob = fields.Nested(CobSchema, load_default=None)
    lines = fields.List(
        fields.Nested(LineSchema),
        required=True,
        validate=validate.Length(1, 10, error="A claim has 1 to 10 lines."),
    )
    diagnosis_code = Text(load_default=None, validate=text(15))

    @validates_schema
    def _total_within_money(self, claim: Mapping[str, Any], **kwargs: Any) -> None:
        # The decision answers the lines' sum as money, which may not exceed 999999.99.
        total = sum(line["patient_responsibility"] for line in claim.get("lines", []))
        if total > MAX_CENTS:
            message = 'The lines\' patient_responsibility may not add up to more than "999999.99".'
            raise ValidationError(message, "lines")

    @post_load
    def _default_cob(self, claim: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        claim = {**claim, "rx_number": rx_number_key(claim["rx_number"])}
        if claim["cob"] is None:
            return {**claim, "cob": _no_other_coverage()}
        return claim


class ReversalByKeySchema(StrictSchema):
    """POST /v1/reversals: the NCPDP key of the claim to reverse."""

    service_provider_id = Npi(required=True)
    rx_number = Text(required=True, validate=text(32))
    fill_number = StrictInteger(required=True, validate=validate.Range(0, 99))
    date_of_service = IsoDate(required=True)

    @post_load
    def _key(self, key: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**key, "rx_number": rx_number_key(key["rx_number"])}


def rx_number_key(rx_number: str) -> str:
    """An Rx number as the NCPDP key holds it: a number's leading zeros are not
    significant (NCPDP.md, 402-D2), so `0001001` is `1001` through either door ("0" stays);
    any other text is kept as sent."""
    if rx_number.isascii() and rx_number.isdigit():
        return rx_number.lstrip("0") or "0"
    return rx_number


class _QueryLimit(fields.Integer):
    """`limit` from a query string ("50") or a JSON integer."""

    default_error_messages = {"invalid": "Must be an integer from 1 to 200."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.make_error("invalid")


class ClaimListQuerySchema(StrictSchema):
    """GET /v1/claims query args; loads every key (None when absent, limit 50)."""

    cardholder_id = Text(load_default=None, validate=text(64))
    status = Text(load_default=None, validate=validate.OneOf(CLAIM_STATUSES))
    review = Text(load_default=None, validate=validate.OneOf([ReviewState.OPEN.value]))
    date_from = IsoDate(load_default=None)
    date_to = IsoDate(load_default=None)
    limit = _QueryLimit(load_default=50, validate=validate.Range(1, 200))
    cursor = Text(load_default=None, validate=text(500))

    @validates_schema
    def _window(self, query: Mapping[str, Any], **kwargs: Any) -> None:
        start, end = query.get("date_from"), query.get("date_to")
        if start is not None and end is not None and start > end:
            raise ValidationError("Must not be before date_from.", "date_to")


# --- the decision (dump only) ------------------------------------------------------


class AmountsSchema(StrictSchema):
    patient_responsibility = Money(required=True)
    eligible = Money(required=True)
    program_paid = Money(required=True)
    patient_pay = Money(required=True)


class BenefitSchema(StrictSchema):
    period_start = IsoDate(required=True)
    period_end = IsoDate(required=True)
    annual_max = Money(required=True)
    used_before = Money(required=True)
    used_after = Money(required=True)
    remaining = Money(required=True)


class TraceSchema(StrictSchema):
    rule = fields.String(required=True)
    outcome = fields.String(required=True)
    message = fields.String(required=True)


_STAFF_ONLY = "Hub staff only: a pharmacy is shown a review's state and time."


class ReviewSchema(StrictSchema):
    state = fields.String(required=True, validate=validate.OneOf(REVIEW_STATES))
    note = fields.String(allow_none=True, metadata={"description": _STAFF_ONLY})
    by = fields.String(allow_none=True, metadata={"description": _STAFF_ONLY})
    at = Timestamp(allow_none=True)


class LinksSchema(StrictSchema):
    self_ = fields.String(data_key="self", attribute="self", required=True)


class EventSchema(StrictSchema):
    at = Timestamp(required=True)
    type = fields.String(required=True)
    actor = fields.String(
        allow_none=True,
        metadata={"description": "Hub staff only: a pharmacy sees what happened and when."},
    )
    data = EventData(
        keys=fields.String(), metadata={"description": "A review's note: hub staff only."}
    )


DECISION_KEYS = (
    "claim_id",
    "authorization_number",
    "transaction_code",
    "status",
    "reject_codes",
    "amounts",
    "benefit",
    "cash_pay",
    "reasons",
    "messages",
    "terms_version",
    "review",
)


class DecisionSchema(StrictSchema):
    """Dumps a claim's decision exactly as API.md shows it. The input is a mapping::

        {"claim_id": str,
         "authorization_number": str | None,
         "transaction_code": str ("B1"),
         "status": "received" | "paid" | "rejected" | "duplicate" | "reversed",
         "reject_codes": [{"code": str, "message": str}],
         "amounts": {"patient_responsibility": int, "eligible": int,
                     "program_paid": int, "patient_pay": int} | None,   # cents
         "benefit": {"period_start": date, "period_end": date, "annual_max": int,
                     "used_before": int, "used_after": int, "remaining": int} | None,
         "cash_pay": bool,
         "reasons": [{"rule": str, "outcome": str, "message": str}],
         "messages": [str],
         "terms_version": str | None,
         "review": {"state": "open" | "approved" | "denied", "note": str | None,
                    "by": str | None, "at": datetime | ISO str | None} | None,
                   # a pharmacy's view: state and at only (claim_queries.pharmacy_view)
         # optional:
         "channel": "json" | "ncpdp",   # default "json"
         "links": {"self": str},   # default {"self": "/v1/claims/<claim_id>"}
         "events": [{"at": datetime | ISO str, "type": str, "actor": str | None,
                     "data": dict (JSON-ready: str/int/bool/None/lists/dicts)}]}
                   # a pharmacy's view: no actor, and no note in data

    Every key above the "optional" line must be present (ValueError otherwise);
    `events` is dumped only when present (GET /v1/claims/{id}). Items may also be
    objects with those attributes (e.g. the domain's RejectCode and TraceEntry).
    Money must be int cents (a float raises TypeError). `None` amounts/benefit/
    terms_version suit a claim still `received`.
    """

    claim_id = fields.String(required=True)
    authorization_number = fields.String(required=True, allow_none=True)
    transaction_code = fields.String(required=True)
    status = fields.String(required=True)
    reject_codes = fields.List(fields.Nested(ReasonSchema), required=True)
    amounts = fields.Nested(AmountsSchema, required=True, allow_none=True)
    benefit = fields.Nested(BenefitSchema, required=True, allow_none=True)
    cash_pay = fields.Boolean(required=True)
    reasons = fields.List(fields.Nested(TraceSchema), required=True)
    messages = fields.List(fields.String(), required=True)
    terms_version = fields.String(required=True, allow_none=True)
    review = fields.Nested(ReviewSchema, required=True, allow_none=True)
    channel = fields.String(
        dump_default="json",
        validate=validate.OneOf(CHANNELS),
        metadata={
            "description": "The door the claim came through: this JSON API, or NCPDP D.0 "
            "(a pharmacy system through a switch). One claim, whichever door it used."
        },
    )
    links = fields.Nested(LinksSchema, required=True)
    events = fields.List(fields.Nested(EventSchema))

    @pre_dump
    def _complete(self, decision: Mapping[str, Any], **kwargs: Any) -> Mapping[str, Any]:
        missing = [key for key in DECISION_KEYS if key not in decision]
        if missing:
            raise ValueError(f"a decision to dump lacks {', '.join(missing)}")
        if "links" in decision:
            return decision
        return {**decision, "links": {"self": f"/v1/claims/{decision['claim_id']}"}}


_DECISION = DecisionSchema()


def decision_json(view: Mapping[str, Any]) -> str:
    """A decision as the API's response body: DecisionSchema's dump, compact JSON text
    in API.md's field order, as Flask's own JSON responses are written."""
    return json.dumps(_DECISION.dump(view), separators=(",", ":")) + "\n"


class ClaimListSchema(StrictSchema):
    """GET /v1/claims: `{"items": [decision dicts], "next_cursor": str | None}`."""

    items = fields.List(fields.Nested(DecisionSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)
