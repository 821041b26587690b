"""Payments (PAYMENTS.md): closing a cycle, the cycles, remittances and their lines.
Money here may be negative (a reversal, what a pharmacy owes back): signed strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from schemas.common import StrictSchema, text
from schemas.fields import Code, Text
from schemas.readjudications import _Limit

__all__ = [
    "InvoiceSchema",
    "CycleListQuerySchema",
    "CycleListSchema",
    "CycleRequestSchema",
    "CycleSchema",
    "RemittanceListQuerySchema",
    "RemittanceListSchema",
    "RemittanceSchema",
]

# RFC 3339 with its offset: a moment without one would mean different instants to
# different readers.
MOMENT = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
LINE_KINDS = ("payment", "reversal", "adjustment")
_SIGNED = {"description": 'Signed money: "-300.00" for what goes back.'}


class CycleRequestSchema(StrictSchema):
    """POST /v1/payment-cycles: `through` (RFC 3339 with an offset; absent: now)."""

    through = Code(
        MOMENT, upper=False, load_default=None,
        message='An RFC 3339 time with its offset, e.g. "2026-03-07T23:59:59Z".',
    )  # fmt: skip

    @post_load
    def _moment(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        through = data["through"]
        if through is not None:
            try:
                data["through"] = datetime.fromisoformat(through.replace("Z", "+00:00"))
            except ValueError:  # the shape of one, not a real moment (month 13, +99:00)
                raise ValidationError("Not a real moment.", "through") from None
        return data


class CycleSchema(StrictSchema):
    cycle_id = fields.String(required=True)
    through = fields.String(required=True)
    closed_at = fields.String(required=True)
    pharmacies = fields.Integer(required=True)
    events = fields.Integer(required=True)
    total = fields.String(required=True, metadata=_SIGNED)
    sent = fields.String(required=True)


class CycleListSchema(StrictSchema):
    items = fields.List(fields.Nested(CycleSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class CycleListQuerySchema(StrictSchema):
    limit = _Limit(load_default=50, validate=validate.Range(1, 200))
    cursor = Text(load_default=None, validate=text(500))


class RemittanceLineSchema(StrictSchema):
    claim_id = fields.String(required=True)
    rx_number = fields.String(required=True)
    fill_number = fields.Integer(required=True)
    date_of_service = fields.String(required=True)
    kind = fields.String(
        required=True, validate=validate.OneOf(["payment", "reversal", "adjustment"])
    )
    amount = fields.String(required=True, metadata=_SIGNED)


class RemittanceSchema(StrictSchema):
    remittance_id = fields.String(required=True)
    cycle_id = fields.String(required=True)
    npi = fields.String(required=True)
    pharmacy = fields.String(required=True, allow_none=True)
    lines = fields.List(fields.Nested(RemittanceLineSchema))
    total = fields.String(required=True, metadata=_SIGNED)
    balance_forward = fields.String(required=True, metadata=_SIGNED)
    payment = fields.String(required=True)
    owed = fields.String(required=True, metadata=_SIGNED)


class RemittanceListSchema(StrictSchema):
    items = fields.List(fields.Nested(RemittanceSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class RemittanceListQuerySchema(StrictSchema):
    cycle_id = Text(load_default=None, validate=text(40))
    npi = Text(load_default=None, validate=text(10))
    limit = _Limit(load_default=50, validate=validate.Range(1, 200))
    cursor = Text(load_default=None, validate=text(500))


class KindTotalSchema(StrictSchema):
    count = fields.Integer(required=True)
    amount = fields.String(required=True, metadata=_SIGNED)


class InvoiceSchema(StrictSchema):
    """The manufacturer's invoice for a cycle."""

    cycle_id = fields.String(required=True)
    through = fields.String(required=True)
    program_id = fields.String(required=True)
    payments = fields.Nested(KindTotalSchema, required=True)
    reversals = fields.Nested(KindTotalSchema, required=True)
    adjustments = fields.Nested(KindTotalSchema, required=True)
    recovered = fields.String(required=True)
    owed = fields.String(required=True, metadata=_SIGNED)
    total_due = fields.String(required=True)
