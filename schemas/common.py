"""The strict base schema, shared small schemas and the error flattener."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow.exceptions import SCHEMA

__all__ = ["SCHEMA_ERRORS_KEY", "ReasonSchema", "StrictSchema", "flatten_errors", "text"]

#: The path under which errors about the whole body (not one field) are reported.
SCHEMA_ERRORS_KEY = SCHEMA  # "_schema"


class StrictSchema(Schema):
    """Base of every schema: unknown fields are errors ("Unknown field."), never dropped.

    Nested schemas derive from it too, so `lines.0.bogus` is rejected like `bogus`.
    """

    class Meta:
        unknown = RAISE


def text(max_length: int) -> validate.Length:
    """Validator for a non-empty string of at most `max_length` characters."""
    return validate.Length(min=1, max=max_length)


class ReasonSchema(StrictSchema):
    """`{"code", "message"}`: an ineligibility reason or an NCPDP reject code."""

    code = fields.String(required=True)
    message = fields.String(required=True)


def flatten_errors(messages: Mapping[Any, Any] | list[Any] | str) -> dict[str, list[str]]:
    """Marshmallow's nested error dict -> `{"lines.0.code": ["..."], ...}`.

    Takes `ValidationError.messages` as it is (a dict, or a list/str for an error
    about the whole body).

    List indices become path segments (`lines.0.quantity`). Errors a nested schema
    reports about itself (its `_schema` key, e.g. "Invalid input type.") are filed
    under the nested field's own path; at the top level they stay under `_schema`.
    """
    flat: dict[str, list[str]] = {}
    _flatten(messages, "", flat)
    return flat


def _flatten(node: Any, path: str, flat: dict[str, list[str]]) -> None:
    if isinstance(node, Mapping):
        for key, child in node.items():
            _flatten(child, _join(path, key), flat)
    elif isinstance(node, list | tuple):
        for item in node:
            _flatten(item, path, flat)
    else:
        flat.setdefault(path or SCHEMA_ERRORS_KEY, []).append(str(node))


def _join(path: str, key: Any) -> str:
    if key == SCHEMA_ERRORS_KEY:
        return path
    return f"{path}.{key}" if path else str(key)
