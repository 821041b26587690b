"""RFC 9457 problem documents for every error the API answers."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from adjudicator.services.errors import Invalid, ServiceError

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)


BODY_MISMATCH = "The request body does not match the schema; see `errors` for each field."
QUERY_MISMATCH = "The query string does not match the schema; see `errors` for each field."
REFUSED = "The request was refused; see `errors` for each field."  # valid, but not acceptable


def validation_problem(errors: dict[str, list[str]], detail: str = BODY_MISMATCH) -> Response:
    return problem(422, "Unprocessable Content", detail, errors=errors)


class ProblemAbort(Exception):
    """Raised by views and decorators to answer a ready-made problem response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(ProblemAbort, lambda e: e.response)
    app.register_error_handler(Invalid, lambda e: validation_problem(e.errors, REFUSED))
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(Exception, _unexpected)


def _service_error(error: ServiceError) -> Response:
    response = problem(error.status, error.title, error.detail)
    if (retry_after := getattr(error, "retry_after", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 413:
        detail = "The request body is larger than 64 KiB."
        _discard_unread_body()
    else:
        detail = error.description or error.name
    response = problem(status, error.name, detail)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


# The 413 answer says "keep-alive", but a server that streams the body to the app (gunicorn
# did) drops a connection whose unread body exceeds 64 KiB, so the client's next request on
# it would fail. Read a moderately oversized body away here (waitress has it buffered
# already: this only empties its buffer); beyond this the connection still closes.
_DISCARD_MAX_BYTES = 1024 * 1024


def _discard_unread_body() -> None:
    from flask import request

    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    discarded = 0
    try:
        while discarded < _DISCARD_MAX_BYTES and (chunk := stream.read(64 * 1024)):
            discarded += len(chunk)
    except Exception:  # a broken client connection: nothing left to keep alive
        pass


def _unexpected(error: Exception) -> Response:
    from flask import current_app

    # Log the type and trace only: exception text may quote request data (PHI).
    current_app.logger.error("unhandled %s", type(error).__name__, exc_info=error)
    return problem(500, "Internal Server Error", "An unexpected error occurred.")
