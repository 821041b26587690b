"""Read and validate JSON bodies and query strings with the strict schemas."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from adjudicator.web.problems import ProblemAbort, problem, validation_problem
from schemas.common import flatten_errors


def load_json(schema: Schema) -> dict[str, Any]:
    """The validated body; 400 when it is not JSON, 422 field by field when it fails."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        payload = request.get_json(force=True, silent=False) if raw else None
    except Exception:
        payload = _NOT_JSON
    if payload is _NOT_JSON or payload is None:
        raise ProblemAbort(problem(400, "Bad Request", "The request body must be a JSON object."))
    return _load(schema, payload)


def load_query(schema: Schema) -> dict[str, Any]:
    return _load(schema, request.args.to_dict())


def _load(schema: Schema, payload: Any) -> dict[str, Any]:
    try:
        return schema.load(payload)  # type: ignore[no-any-return]
    except ValidationError as error:
        raise ProblemAbort(validation_problem(flatten_errors(error.messages))) from None


_NOT_JSON = object()
