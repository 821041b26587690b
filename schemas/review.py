"""Review: POST /v1/claims/{claim_id}/review."""

from __future__ import annotations

from marshmallow import validate

from schemas.common import StrictSchema
from schemas.fields import CONTROL_CHARACTERS, Text

__all__ = ["NOTE_NOT_BLANK", "NOTE_NOT_BLANK_ECMA", "ReviewRequestSchema"]

#: What the server checks a note against (Python `re`, matched from the start), after
#: Text's own rule (no control character): it holds a character that is not whitespace.
#: `(?s)` is an inline flag, which ECMA-262 has not.
NOTE_NOT_BLANK = r"(?s).*\S.*"
#: Both rules as the OpenAPI document publishes them (JSON Schema patterns are ECMA-262 and
#: match anywhere in the string): no control character, and one character outside Python's
#: `\s`, spelled out, since ECMA's `\s` differs from Python's on U+001C-U+001F, U+0085 and
#: U+FEFF.
NOTE_NOT_BLANK_ECMA = (
    rf"^[^{CONTROL_CHARACTERS}]*"
    r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    rf"[^{CONTROL_CHARACTERS}]*$"
)


class ReviewRequestSchema(StrictSchema):
    """Loads `{"action": "approve" | "deny", "note": str}`; a blank note is an error, and a
    note is one paragraph: no line break, as in every text field (decisions.md #86)."""

    action = Text(required=True, validate=validate.OneOf(["approve", "deny"]))
    note = Text(
        required=True,
        validate=[
            validate.Length(max=2000),
            validate.Regexp(NOTE_NOT_BLANK, error="Must not be blank."),
        ],
        openapi_pattern=NOTE_NOT_BLANK_ECMA,  # in the document instead of the above
    )
