"""`/docs` from this server alone, and the headers of the API's and the docs' answers.

Swagger UI's scripts come from the `swagger-ui-bundle` package, served at /docs/assets/:
loaded from a CDN they would run, unpinned, on the console's origin (where they could
read console pages and the keys pasted into Swagger's Authorize box), and /docs would be
blank on a machine without internet access.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets/"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)

assets = Blueprint("docs_assets", __name__)


@assets.get(ASSETS_URL + "<path:filename>")
def asset(filename: str) -> Any:
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def register(app: Flask) -> None:
    app.register_blueprint(assets)
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    path = request.path
    if path.startswith("/v1/"):
        # Answers name patients and their money: no browser or proxy keeps a copy.
        response.headers.setdefault("Cache-Control", "no-store")
    elif path == "/docs" or path.startswith("/docs/"):
        response.headers["Content-Security-Policy"] = DOCS_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response
