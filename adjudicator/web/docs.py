"""OpenAPI helpers: document a JSON request body without letting smorest parse it."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema


def json_body(schema: type[Schema]) -> dict[str, Any]:
    # We parse bodies ourselves (auth first, problem+json errors); this only documents.
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


BEARER = [{"bearer": []}]
