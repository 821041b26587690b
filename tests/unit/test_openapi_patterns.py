"""Every `pattern` the schemas publish is ECMA-262, and says what the server checks."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from typing import Any

import pytest
import regress
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, ValidationError

import schemas
from schemas.fields import OPENAPI_FIELD_TYPES, TEXT_PATTERN, Text, is_text
from schemas.review import NOTE_NOT_BLANK, NOTE_NOT_BLANK_ECMA, ReviewRequestSchema
from tests.openapi_patterns import ecma_262_error, patterns

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "pattern",
    [r"(?s).*\S.*", r"\A[0-9]+\Z", r"a++", r"(?>a)", r"(?P<digits>[0-9]+)", r"(?i)abc"],
)
def test_python_only_syntax_is_no_ecma_262(pattern: str) -> None:
    assert ecma_262_error(pattern) is not None


def _all_schemas() -> list[type[Schema]]:
    """Every schema class that schemas/ defines."""
    found = []
    for module in pkgutil.iter_modules(schemas.__path__, "schemas."):
        for _, value in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(value, Schema) and value.__module__ == module.name:
                found.append(value)
    return found


def _documented(schema: type[Schema]) -> dict[str, Any]:
    """`schema` as flask-smorest puts it in the document (apispec's Marshmallow plugin)."""
    spec = APISpec("walk", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    for field, openapi_type in OPENAPI_FIELD_TYPES.items():
        spec.plugins[0].map_to_openapi_type(field, *openapi_type)
    spec.components.schema(schema.__name__, schema=schema)
    return spec.to_dict()


def test_every_pattern_the_schemas_publish_is_ecma_262() -> None:
    """Walks every schema of schemas/; tests/integration/test_openapi.py walks the document
    the server answers."""
    found = [p for schema in _all_schemas() for p in patterns(_documented(schema))]

    assert found  # the walk sees them (the review note's, at least)
    assert [(where, p, ecma_262_error(p)) for where, p in found if ecma_262_error(p)] == []


def _note_ok(note: str) -> bool:
    try:
        ReviewRequestSchema().load({"action": "deny", "note": note})
    except ValidationError:
        return False
    return True


# Every character a note can hold, one at a time (lone surrogates are no JSON text).
CODE_POINTS = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]


def test_the_review_notes_published_pattern_accepts_exactly_what_the_server_does() -> None:
    not_blank, published = re.compile(NOTE_NOT_BLANK), regress.Regex(NOTE_NOT_BLANK_ECMA, "u")
    samples = [*CODE_POINTS, "", "  \n\t", " ok ", "\n\nx", "\x1c\x1d\x1e\x1f", "\x85\ufeff"]
    samples += ["ok\x00", "\x7fok", "ok \u3000", "a\nb", " \ufeff "]

    def server(note: str) -> bool:  # the note's Text field: no control character, then this
        return is_text(note) and not_blank.match(note) is not None

    differ = [s for s in samples if server(s) != (published.find(s) is not None)]

    assert differ == []


def test_the_text_pattern_accepts_exactly_what_a_text_field_does() -> None:
    published, field = regress.Regex(TEXT_PATTERN, "u"), Text()
    samples = [*CODE_POINTS, "", "ok", "a\x00b", "a\r\nb", "x\x7f", "\u2028"]

    def server(text: str) -> bool:
        try:
            field.deserialize(text)
        except ValidationError:
            return False
        return True

    assert [s for s in samples if server(s) != (published.find(s) is not None)] == []


@pytest.mark.parametrize(
    ("note", "ok"),
    [
        ("Dose checked with the prescriber.", True),
        ("  x  ", True),
        ("", False),
        (" \t\r\n", False),
        ("\x1c\x1f", False),  # control characters (and Python's whitespace, not ECMA-262's)
        ("\x85\u3000", False),
        ("\ufeff", True),  # ECMA-262's whitespace, not Python's: accepted, as it always was
    ],
)
def test_the_server_still_checks_a_note_with_pythons_regex(note: str, ok: bool) -> None:
    assert _note_ok(note) is ok
