"""Path variables (`<claim_id>`, `<cardholder_id>`, ...) are text: no control characters.

An id with a control character cannot exist (no text field holds one, API.md), so a path
whose variable holds one matches no route: 404 before any view or storage sees it, on
every route of the API and the console alike. PostgreSQL cannot even compare with a NUL,
which was a 500.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter

from schemas.fields import CONTROL_CHARACTERS

#: A path variable as the OpenAPI document describes it (ECMA-262, anchored).
PATH_VARIABLE_PATTERN = rf"^[^/{CONTROL_CHARACTERS}]+$"


class TextConverter(BaseConverter):
    """Werkzeug's default converter (one path segment), without control characters."""

    regex = rf"[^/{CONTROL_CHARACTERS}]+"


def use_text_variables(app: Flask) -> None:
    """Make TextConverter the converter of `<name>` and `<string:name>`; before any route."""
    app.url_map.converters["default"] = TextConverter
    app.url_map.converters["string"] = TextConverter


def document_text_variables(api: Any) -> None:
    """Describe such variables in the OpenAPI document; before any blueprint."""
    api.register_converter(TextConverter, _parameter_schema)


def _parameter_schema(converter: TextConverter) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "pattern": PATH_VARIABLE_PATTERN}
