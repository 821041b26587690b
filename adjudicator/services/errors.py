"""Errors the use cases raise; the web layer maps each to a problem document."""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status = 404
    title = "Not Found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"


class TooManyUndecided(ServiceError):
    """A pharmacy's asynchronous claim while too many of its claims wait for a decision."""

    status = 429
    title = "Too Many Requests"
    retry_after = 1  # seconds: the workers decide far more than one claim a second


class Invalid(ServiceError):
    """A request that passed the schema but fails a check that needs the ledger."""

    status = 422
    title = "Unprocessable Content"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("the request has invalid fields")
        self.errors = errors
