"""`/docs` from this server alone (its page's headers: adjudicator/web/headers.py).

Swagger UI's scripts come from the `swagger-ui-bundle` package, served at /docs/assets/:
loaded from a CDN they would run, unpinned, on the console's origin (where they could
read console pages and the keys pasted into Swagger's Authorize box), and /docs would be
blank on a machine without internet access.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets/"

assets = Blueprint("docs_assets", __name__)


@assets.get(ASSETS_URL + "<path:filename>")
def asset(filename: str) -> Any:
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def register(app: Flask) -> None:
    app.register_blueprint(assets)
