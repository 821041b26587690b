"""The terms document: GET /v1/terms/{version} answers it, POST /v1/terms accepts it."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import StrictSchema, text
from schemas.enrollments import BIN_MESSAGE, BIN_PATTERN, COVERAGE_TYPES, PCN_MESSAGE, PCN_PATTERN
from schemas.fields import (
    Code,
    DecimalString,
    Hcpcs,
    IsoDate,
    Money,
    Ndc,
    StrictInteger,
    Text,
)

__all__ = ["GovernmentPayerSchema", "RoutingSchema", "TermsDocumentSchema", "TermsListSchema"]

_SLUG = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_SLUG_MESSAGE = "Letters, digits, '.', '_' and '-', starting with a letter or digit."


def _non_empty() -> validate.Length:
    return validate.Length(min=1, error="Must list at least one.")


def _state() -> Code:
    return Code(r"[A-Za-z]{2}", message='A two-letter state code, e.g. "MA".')


class GovernmentPayerSchema(StrictSchema):
    """A government plan's BIN and, when the entry should match on it, its PCN."""

    bin = Code(BIN_PATTERN, message=BIN_MESSAGE, required=True)
    pcn = Code(PCN_PATTERN, message=PCN_MESSAGE, load_default=None)


class RoutingSchema(StrictSchema):
    """Where pharmacies send this program's NCPDP D.0 claims: the BIN, PCN and group
    printed on the copay card. A D.0 header must name this BIN and PCN (else 01, 04)."""

    bin = Code(BIN_PATTERN, message=BIN_MESSAGE, required=True, metadata={"example": "999999"})
    pcn = Code(PCN_PATTERN, message=PCN_MESSAGE, required=True, metadata={"example": "IPSENCARES"})
    # Printable ASCII without spaces: D.0 pads 301-C1 with spaces. Kept as posted.
    group_id = Code(
        r"[!-~]{1,15}",
        message='A group id is 1 to 15 characters without spaces, e.g. "IPSENCARES".',
        upper=False,
        required=True,
        metadata={"example": "IPSENCARES"},
    )


class TermsDocumentSchema(StrictSchema):
    """One version of the program terms.

    Loads money as int cents, `max_dose_mg_per_kg_per_day` and
    `concentration_mg_per_ml` as Decimal, dates as date, lists as lists of str
    (NDCs as 11 digits, HCPCS, service codes, states and reject codes upper case),
    `government_payers` as [{"bin": str, "pcn": str | None}], `routing` as
    {"bin", "pcn", "group_id"} (PCN upper case). Dumps the same dict back to the JSON
    document. Every field is required but `routing`: a version posted without it takes
    the routing of the latest version effective on or before its effective date (the
    earliest version's when none is), stored with it, so reading it always shows one.
    """

    program_id = Code(_SLUG, message=_SLUG_MESSAGE, upper=False, required=True)
    version = Code(_SLUG, message=_SLUG_MESSAGE, upper=False, required=True)
    effective_date = IsoDate(required=True)
    annual_max = Money(required=True)
    cash_pay_per_rx_max = Money(required=True)
    covered_ndcs = fields.List(Ndc(allow_hcpcs=False), required=True, validate=_non_empty())
    covered_hcpcs = fields.List(Hcpcs(), required=True, validate=_non_empty())
    covered_service_codes = fields.List(
        Code(r"[A-Za-z0-9]{1,20}", message='A service code, e.g. CPT "96372".'),
        required=True,
        validate=_non_empty(),
    )
    drug_only_states = fields.List(_state(), required=True)
    excluded_coverage_types = fields.List(
        Text(validate=validate.OneOf(COVERAGE_TYPES)), required=True
    )
    government_payers = fields.List(fields.Nested(GovernmentPayerSchema), required=True)
    product_not_covered_reject_codes = fields.List(
        Code(r"[A-Za-z0-9]{1,3}", message='An NCPDP reject code, e.g. "70".'), required=True
    )
    network_chains = fields.List(Text(validate=text(64)), required=True)
    excluded_jurisdictions = fields.List(_state(), required=True)
    minimum_age_years = StrictInteger(required=True, validate=validate.Range(0, 150))
    max_dose_mg_per_kg_per_day = DecimalString(
        places=6, integer_digits=6, example="0.24", required=True
    )
    concentration_mg_per_ml = DecimalString(places=6, integer_digits=6, example="10", required=True)
    routing = fields.Nested(RoutingSchema)


class TermsSummarySchema(StrictSchema):
    version = fields.String()
    program_id = fields.String()
    effective_date = IsoDate()
    links = fields.Dict(keys=fields.String(), values=fields.String())


class TermsListSchema(StrictSchema):
    items = fields.List(fields.Nested(TermsSummarySchema))
