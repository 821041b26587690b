"""HTML forms to API-shaped payloads, validated by the API's own schemas.

Inputs are named by the schema's field paths (`patient.address.zip`), so a schema
error lands next to the input it is about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError

from schemas.common import SCHEMA_ERRORS_KEY, flatten_errors
from schemas.enrollments import EnrollmentPatchSchema, EnrollmentRequestSchema
from schemas.readjudications import ReadjudicationRequestSchema
from schemas.review import ReviewRequestSchema

ADDRESS = tuple(
    f"patient.address.{name}" for name in ("line1", "line2", "city", "state", "zip", "country")
)
COVERAGE_TEXT = ("coverage.type", "coverage.payer_name", "coverage.bin", "coverage.pcn")
FLAGS = (
    "coverage.covers_product",
    "attestations.government_program",
    "attestations.other_assistance",
)
ENROLL_TEXT = (
    "cardholder_id",
    "patient.first_name",
    "patient.last_name",
    "patient.date_of_birth",
    "patient.sex",
    *ADDRESS,
    *COVERAGE_TEXT,
    "weight_kg",
    "effective_date",
)
EDIT_TEXT = (*ADDRESS, *COVERAGE_TEXT, "weight_kg")
READJUDICATION_TEXT = ("date_from", "date_to", "cardholder_id", "mode")
REQUIRED_TEXT = "This field is required."
FORM_ERRORS = "form"  # where errors about the whole form are filed
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what a browser's textarea may send


class FormResult:
    """The loaded data, or the errors by input name; `values` refills the form."""

    def __init__(
        self, values: dict[str, Any], data: dict[str, Any] | None, errors: dict[str, list[str]]
    ) -> None:
        self.values = values
        self.data = data
        self.errors = errors

    @property
    def ok(self) -> bool:
        return self.data is not None


def enrollment_form(form: Mapping[str, str]) -> FormResult:
    values = _values(form, ENROLL_TEXT, FLAGS)
    skeleton: dict[str, Any] = {"patient": {"address": {}}, "coverage": {}, "attestations": {}}
    return _load(EnrollmentRequestSchema(), values, skeleton, ENROLL_TEXT)


def enrollment_edit_form(form: Mapping[str, str]) -> FormResult:
    values = _values(form, EDIT_TEXT, FLAGS)
    skeleton: dict[str, Any] = {"patient": {"address": {}}, "coverage": {}, "attestations": {}}
    result = _load(EnrollmentPatchSchema(), values, skeleton, EDIT_TEXT)
    if result.data is not None and "weight_kg" not in result.data:
        result.data["weight_kg"] = None  # an emptied weight removes the recorded one
    return result


def review_form(form: Mapping[str, str]) -> FormResult:
    values = {"action": form.get("action", ""), "note": one_paragraph(form.get("note", ""))}
    try:
        return FormResult(values, ReviewRequestSchema().load(values), {})
    except ValidationError as error:
        return FormResult(values, None, _friendly(flatten_errors(error.messages)))


def one_paragraph(text: str) -> str:
    """A textarea's lines joined by spaces: a note is one paragraph, as the API takes it
    (no text field holds a control character, a line break included; decisions.md #86)."""
    return " ".join(line.strip() for line in _LINE_BREAK.split(text) if line.strip())


def readjudication_form(form: Mapping[str, str]) -> FormResult:
    """A re-adjudication job, as POST /v1/readjudications takes it."""
    values = _values(form, READJUDICATION_TEXT, ())
    return _load(ReadjudicationRequestSchema(), values, {}, READJUDICATION_TEXT)


def values_of_enrollment(view: Mapping[str, Any]) -> dict[str, Any]:
    """A stored enrollment as form values (the edit form starts from them)."""
    values: dict[str, Any] = {}
    for prefix, node in (
        ("patient.address", view["patient"]["address"]),
        ("coverage", view["coverage"]),
        ("attestations", view["attestations"]),
    ):
        for key, value in node.items():
            values[f"{prefix}.{key}"] = value if value is not None else ""
    values["weight_kg"] = view.get("weight_kg") or ""
    return values


def _values(form: Mapping[str, str], text: Iterable[str], flags: Iterable[str]) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in text}
    values.update({name: name in form for name in flags})
    return values


def _load(
    schema: Schema, values: dict[str, Any], skeleton: dict[str, Any], text: Iterable[str]
) -> FormResult:
    payload: dict[str, Any] = skeleton
    for name, value in values.items():
        if value != "":  # an empty optional input is an absent field
            _put(payload, name, value)
    try:
        return FormResult(values, schema.load(payload), {})
    except ValidationError as error:
        errors = _friendly(flatten_errors(error.messages))
        return FormResult(values, None, _onto_inputs(errors, set(text) | set(values)))


def _put(payload: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = payload
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value


def _friendly(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    plain = {
        "Missing data for required field.": REQUIRED_TEXT,
        "Must not be before date_from.": "The end date must not be before the start date.",
    }
    return {path: [plain.get(m, m) for m in messages] for path, messages in errors.items()}


def _onto_inputs(errors: dict[str, list[str]], inputs: set[str]) -> dict[str, list[str]]:
    """Errors about something that has no input of its own go to the form as a whole."""
    placed: dict[str, list[str]] = {}
    for path, messages in errors.items():
        target = path if path in inputs else FORM_ERRORS
        if target == FORM_ERRORS and path not in ("", SCHEMA_ERRORS_KEY):
            messages = [f"{path}: {m}" for m in messages]
        placed.setdefault(target, []).extend(messages)
    return placed
