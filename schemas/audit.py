"""Audit trail: GET /v1/audit."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import StrictSchema
from schemas.fields import EventData, StrictInteger, Text, Timestamp


class AuditQuerySchema(StrictSchema):
    cardholder_id = Text(validate=validate.Length(min=1, max=40))
    claim_id = Text(validate=validate.Length(min=1, max=40))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = Text(validate=validate.Length(max=100))


class AuditEventSchema(StrictSchema):
    seq = StrictInteger()
    at = Timestamp()
    actor = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    type = fields.String()
    data = EventData()


class AuditPageSchema(StrictSchema):
    items = fields.List(fields.Nested(AuditEventSchema))
    next_cursor = fields.String(allow_none=True)
