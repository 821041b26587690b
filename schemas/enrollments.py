"""Enrollments: POST and PATCH /v1/enrollments, their response, and a member's benefit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from schemas.common import ReasonSchema, StrictSchema, text
from schemas.fields import Code, IsoDate, Money, StrictBoolean, Text, WeightKg, not_in_future

__all__ = [
    "COVERAGE_TYPES",
    "AddressSchema",
    "AttestationsSchema",
    "BenefitPeriodSchema",
    "BenefitQuerySchema",
    "BenefitResponseSchema",
    "CoverageSchema",
    "EnrollmentPatchSchema",
    "EnrollmentRequestSchema",
    "EnrollmentResponseSchema",
    "PatientSchema",
]

COVERAGE_TYPES = (
    "commercial",
    "uninsured",
    "medicare_part_b",
    "medicare_part_d",
    "medicaid",
    "medigap",
    "va",
    "dod",
    "tricare",
    "other_government",
)
SEXES = ("F", "M", "X", "U")
_US_ZIP = re.compile(r"[0-9]{5}(-[0-9]{4})?")


BIN_PATTERN = r"[0-9]{6}"
BIN_MESSAGE = 'A BIN must be 6 digits, e.g. "003858".'
PCN_PATTERN = r"[A-Za-z0-9]{1,10}"
PCN_MESSAGE = 'A PCN must be 1 to 10 letters or digits, e.g. "A4".'


class AddressSchema(StrictSchema):
    """A postal address. State and country are upper-cased; any value is accepted
    (the eligibility rules, not the schema, decide what is outside the US), but a
    US address needs a 5 or 9 digit ZIP."""

    line1 = Text(required=True, validate=text(100))
    line2 = Text(load_default=None, validate=text(100))
    city = Text(required=True, validate=text(100))
    state = Text(required=True, validate=text(50))
    zip = Text(required=True, validate=text(20))
    country = Text(required=True, validate=text(60))

    @pre_load
    def _strip_codes(self, address: Any, **kwargs: Any) -> Any:
        # Codes are compared stripped (" ma" is MA), and "  " must fail the length check.
        if not isinstance(address, dict):
            return address
        codes = {k: v.strip() for k in ("state", "country") if isinstance(v := address.get(k), str)}
        return {**address, **codes}

    @validates_schema
    def _us_zip(self, address: Mapping[str, Any], **kwargs: Any) -> None:
        if address["country"].upper() == "US" and not _US_ZIP.fullmatch(address["zip"]):
            raise ValidationError('A US ZIP code is 5 digits or ZIP+4, e.g. "02139".', "zip")

    @post_load
    def _upper_codes(self, address: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**address, "state": address["state"].upper(), "country": address["country"].upper()}


class PatientSchema(StrictSchema):
    first_name = Text(required=True, validate=text(100))
    last_name = Text(required=True, validate=text(100))
    date_of_birth = IsoDate(required=True, validate=not_in_future)
    sex = Text(load_default=None, validate=validate.OneOf(SEXES))
    address = fields.Nested(AddressSchema, required=True)


class CoverageSchema(StrictSchema):
    type = Text(required=True, validate=validate.OneOf(COVERAGE_TYPES))
    covers_product = StrictBoolean(load_default=True)
    payer_name = Text(load_default=None, validate=text(100))
    bin = Code(BIN_PATTERN, message=BIN_MESSAGE, load_default=None)
    pcn = Code(PCN_PATTERN, message=PCN_MESSAGE, load_default=None)


class AttestationsSchema(StrictSchema):
    government_program = StrictBoolean(load_default=False)
    other_assistance = StrictBoolean(load_default=False)


def _no_attestations() -> dict[str, bool]:
    return {"government_program": False, "other_assistance": False}


class EnrollmentRequestSchema(StrictSchema):
    """POST /v1/enrollments. Loads to a plain dict with every key present::

        {"cardholder_id": str | None,
         "patient": {"first_name": str, "last_name": str, "date_of_birth": date,
                     "sex": "F" | "M" | "X" | "U" | None,
                     "address": {"line1": str, "line2": str | None, "city": str,
                                 "state": str (upper case), "zip": str,
                                 "country": str (upper case)}},
         "coverage": {"type": str, "covers_product": bool, "payer_name": str | None,
                      "bin": str | None, "pcn": str | None},
         "attestations": {"government_program": bool, "other_assistance": bool},
         "weight_kg": Decimal | None,
         "effective_date": date}

    An optional key sent as JSON null loads like an absent one (None).
    """

    cardholder_id = Text(load_default=None, validate=text(64))
    patient = fields.Nested(PatientSchema, required=True)
    coverage = fields.Nested(CoverageSchema, required=True)
    attestations = fields.Nested(AttestationsSchema, load_default=_no_attestations)
    weight_kg = WeightKg(load_default=None)
    effective_date = IsoDate(required=True)


class AddressPatchSchema(StrictSchema):
    """PATCH's `patient`: only the address may change."""

    address = fields.Nested(AddressSchema, required=True)


class EnrollmentPatchSchema(StrictSchema):
    """PATCH /v1/enrollments/{id}. Loads only the keys sent; `coverage`,
    `attestations` and `patient.address` replace the stored ones whole (defaults
    apply inside them), `"weight_kg": null` removes the recorded weight."""

    coverage = fields.Nested(CoverageSchema)
    attestations = fields.Nested(AttestationsSchema)
    patient = fields.Nested(AddressPatchSchema)
    weight_kg = WeightKg(allow_none=True)

    @validates_schema
    def _at_least_one(self, patch: Mapping[str, Any], **kwargs: Any) -> None:
        if not patch:
            raise ValidationError(
                "Send at least one of coverage, attestations, patient.address, weight_kg."
            )


class BenefitPeriodSchema(StrictSchema):
    start = IsoDate(required=True)
    end = IsoDate(required=True)


class EnrollmentResponseSchema(StrictSchema):
    """Dumps an enrollment. Required keys: enrollment_id, cardholder_id, status,
    reasons (items with code, message), cash_pay, benefit_period {start, end: date},
    annual_max (int cents). Dumped when present: patient, coverage, attestations
    (shaped like the request's loaded dict), weight_kg (Decimal or None),
    effective_date (date)."""

    enrollment_id = fields.String(required=True)
    cardholder_id = fields.String(required=True)
    status = fields.String(required=True)
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)
    cash_pay = fields.Boolean(required=True)
    benefit_period = fields.Nested(BenefitPeriodSchema, required=True)
    annual_max = Money(required=True)
    patient = fields.Nested(PatientSchema)
    coverage = fields.Nested(CoverageSchema)
    attestations = fields.Nested(AttestationsSchema)
    weight_kg = WeightKg(allow_none=True)
    effective_date = IsoDate()


class BenefitResponseSchema(StrictSchema):
    """GET /v1/members/{cardholder_id}/benefit: dates as date, money as int cents."""

    cardholder_id = fields.String(required=True)
    benefit_period = fields.Nested(BenefitPeriodSchema, required=True)
    annual_max = Money(required=True)
    used = Money(required=True)
    remaining = Money(required=True)


class BenefitQuerySchema(StrictSchema):
    """GET /v1/members/{cardholder_id}/benefit?date=D: `{"date": date | None}`
    (None when absent: the caller uses today)."""

    date = IsoDate(load_default=None)
