"""Liveness and readiness answers: GET /healthz, GET /readyz (for the OpenAPI document)."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import StrictSchema

__all__ = ["HealthSchema", "ReadinessSchema"]


class HealthSchema(StrictSchema):
    """`{"status": "ok"}`: the process lives."""

    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class ReadinessSchema(StrictSchema):
    """`{"status": "ok"}`, or `{"status": "unavailable", "failed": [...]}` with a 503."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    failed = fields.List(
        fields.String(validate=validate.OneOf(["database", "redis", "broker"])),
        metadata={"description": "What did not answer (503 only)"},
    )
