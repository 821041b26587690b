"""Marshmallow schemas for the HTTP API: requests, decisions, terms; custom fields.

Every request schema is strict (unknown fields are errors) and loads to plain
dicts: money as int cents, quantities and weights as Decimal, dates as date.
"""

from schemas.claims import (
    ClaimListQuerySchema,
    ClaimListSchema,
    ClaimRequestSchema,
    DecisionSchema,
    LineSchema,
    ReversalByKeySchema,
)
from schemas.common import SCHEMA_ERRORS_KEY, StrictSchema, flatten_errors
from schemas.enrollments import (
    BenefitQuerySchema,
    BenefitResponseSchema,
    EnrollmentPatchSchema,
    EnrollmentRequestSchema,
    EnrollmentResponseSchema,
)
from schemas.fields import OPENAPI_FIELD_TYPES
from schemas.review import ReviewRequestSchema
from schemas.terms import TermsDocumentSchema

__all__ = [
    "OPENAPI_FIELD_TYPES",
    "SCHEMA_ERRORS_KEY",
    "BenefitQuerySchema",
    "BenefitResponseSchema",
    "ClaimListQuerySchema",
    "ClaimListSchema",
    "ClaimRequestSchema",
    "DecisionSchema",
    "EnrollmentPatchSchema",
    "EnrollmentRequestSchema",
    "EnrollmentResponseSchema",
    "LineSchema",
    "ReversalByKeySchema",
    "ReviewRequestSchema",
    "StrictSchema",
    "TermsDocumentSchema",
    "flatten_errors",
]
