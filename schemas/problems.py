"""The RFC 9457 problem document every error answers (for the OpenAPI document)."""

from marshmallow import fields

from schemas.common import StrictSchema


class ProblemSchema(StrictSchema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors keyed by field path, e.g. lines.0.code"},
    )
