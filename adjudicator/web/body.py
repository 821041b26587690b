"""Read and validate JSON bodies and query strings with the strict schemas."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from adjudicator.web.problems import (
    BODY_MISMATCH,
    QUERY_MISMATCH,
    ProblemAbort,
    problem,
    validation_problem,
)
from schemas.common import flatten_errors


def load_json(schema: Schema) -> dict[str, Any]:
    """The validated body; 400 when it is not JSON, 422 field by field when it fails."""
    if not _whole_body():
        raise _not_json()
    try:
        payload = request.get_json(force=True, silent=False)
    except Exception:
        raise _not_json() from None
    return _load(schema, payload)  # JSON that is no object (null, [1]) fails the schema: 422


def load_optional_json(schema: Schema) -> dict[str, Any]:
    """load_json for an endpoint whose body may be left out: no body loads as {}."""
    return load_json(schema) if _whole_body() else {}


def raw_body() -> bytes:
    """The body as sent, of any content type; 413 past MAX_CONTENT_LENGTH."""
    return _whole_body()


def _not_json() -> ProblemAbort:
    return ProblemAbort(problem(400, "Bad Request", "The request body must be a JSON object."))


def _whole_body() -> bytes:
    """The body; 413 past MAX_CONTENT_LENGTH, also for a streamed (chunked) body."""
    raw = request.get_data(cache=True)  # raises 413 itself when Content-Length is over
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    # Without Content-Length, werkzeug stops reading at the limit and says nothing: one
    # byte more on the server's stream tells a body over the limit from one just at it.
    at_limit = request.content_length is None and limit is not None and len(raw) >= limit
    if at_limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return raw


def load_query(schema: Schema) -> dict[str, Any]:
    return _load(schema, request.args.to_dict(), QUERY_MISMATCH)


def _load(schema: Schema, payload: Any, detail: str = BODY_MISMATCH) -> dict[str, Any]:
    try:
        return schema.load(payload)
    except ValidationError as error:
        answer = validation_problem(flatten_errors(error.messages), detail)
        raise ProblemAbort(answer) from None
