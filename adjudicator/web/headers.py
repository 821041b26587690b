"""Headers of the API's and the docs page's answers."""

from __future__ import annotations

from flask import Flask, Response, request

DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def register(app: Flask) -> None:
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    path = request.path
    if path.startswith("/v1/"):
        # Answers name patients and their money: no browser or proxy keeps a copy.
        response.headers.setdefault("Cache-Control", "no-store")
    elif path == "/docs" or path.startswith("/docs/"):
        # Swagger UI from this server only (flask-smorest's page configures it inline).
        response.headers["Content-Security-Policy"] = DOCS_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response
