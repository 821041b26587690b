"""Review: POST /v1/claims/{claim_id}/review."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import StrictSchema

__all__ = ["ReviewRequestSchema"]


class ReviewRequestSchema(StrictSchema):
    """Loads `{"action": "approve" | "deny", "note": str}`; a blank note is an error."""

    action = fields.String(required=True, validate=validate.OneOf(["approve", "deny"]))
    note = fields.String(
        required=True,
        validate=[
            validate.Length(max=2000),
            validate.Regexp(r"(?s).*\S.*", error="Must not be blank."),
        ],
    )
