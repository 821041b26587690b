"""Batch re-adjudication: POST /v1/readjudications, the job, and its changed claims."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import StrictSchema, text
from schemas.fields import IsoDate, Money, SignedMoney, StrictInteger, Text, Timestamp

__all__ = [
    "ChangesPageSchema",
    "ChangesQuerySchema",
    "JobListSchema",
    "JobSchema",
    "ReadjudicationRequestSchema",
]

MODES = ("dry_run", "apply")
JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class ReadjudicationRequestSchema(StrictSchema):
    """A job: the date-of-service window, optionally one cardholder, and the mode."""

    date_from = IsoDate(required=True)
    date_to = IsoDate(required=True)
    cardholder_id = Text(validate=text(40))
    mode = Text(required=True, validate=validate.OneOf(MODES))

    @validates_schema
    def _window(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start is not None and end is not None and start > end:
            raise ValidationError("Must not be before date_from.", "date_to")


class _Limit(fields.Integer):
    """`limit` from a query string ("50")."""

    default_error_messages = {"invalid": "Must be an integer from 1 to 200."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        raise self.make_error("invalid")


class ChangesQuerySchema(StrictSchema):
    limit = _Limit(load_default=50, validate=validate.Range(1, 200))
    cursor = Text(load_default=None, validate=text(500))


class JobListQuerySchema(StrictSchema):
    limit = _Limit(load_default=20, validate=validate.Range(1, 200))


class ProgressSchema(StrictSchema):
    total = StrictInteger()
    done = StrictInteger()


class SummarySchema(StrictSchema):
    claims = StrictInteger()
    unchanged = StrictInteger()
    changed = StrictInteger()
    program_paid_before = Money()
    program_paid_after = Money()
    delta = SignedMoney()


class JobSchema(StrictSchema):
    """A job as GET /v1/readjudications/{job_id} answers it (POST answers the same, queued)."""

    job_id = fields.String()
    status = fields.String(metadata={"enum": list(JOB_STATUSES)})
    mode = fields.String(metadata={"enum": list(MODES)})
    progress = fields.Nested(ProgressSchema)
    summary = fields.Nested(SummarySchema)
    date_from = IsoDate()
    date_to = IsoDate()
    cardholder_id = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = Timestamp()
    started_at = Timestamp(allow_none=True)
    finished_at = Timestamp(allow_none=True)
    links = fields.Dict(keys=fields.String(), values=fields.String())


class JobListSchema(StrictSchema):
    items = fields.List(fields.Nested(JobSchema))


class OutcomeSchema(StrictSchema):
    status = fields.String()
    program_paid = Money()


class ChangeSchema(StrictSchema):
    claim_id = fields.String()
    cardholder_id = fields.String()
    date_of_service = IsoDate()
    before = fields.Nested(OutcomeSchema)
    after = fields.Nested(OutcomeSchema)


class ChangesPageSchema(StrictSchema):
    items = fields.List(fields.Nested(ChangeSchema))
    next_cursor = fields.String(allow_none=True)
