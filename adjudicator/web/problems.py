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


def validation_problem(errors: dict[str, list[str]]) -> Response:
    return problem(
        422,
        "Unprocessable Content",
        "The request body does not match the schema; see `errors` for each field.",
        errors=errors,
    )


class ProblemAbort(Exception):
    """Raised by views and decorators to answer a ready-made problem response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(ProblemAbort, lambda e: e.response)
    app.register_error_handler(Invalid, lambda e: validation_problem(e.errors))
    app.register_error_handler(ServiceError, lambda e: problem(e.status, e.title, e.detail))
    app.register_error_handler(Exception, _unexpected)


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 413:
        detail = "The request body is larger than 64 KiB."
    else:
        detail = error.description or error.name
    response = problem(status, error.name, detail)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def _unexpected(error: Exception) -> Response:
    from flask import current_app

    # Log the type and trace only: exception text may quote request data (PHI).
    current_app.logger.error("unhandled %s", type(error).__name__, exc_info=error)
    return problem(500, "Internal Server Error", "An unexpected error occurred.")
