"""Review: POST /v1/claims/{claim_id}/review."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import StrictSchema

__all__ = ["NOTE_NOT_BLANK", "NOTE_NOT_BLANK_ECMA", "ReviewRequestSchema"]

#: What the server checks a note against (Python `re`, matched from the start): it holds
#: a character that is not whitespace. `(?s)` is an inline flag, which ECMA-262 has not.
NOTE_NOT_BLANK = r"(?s).*\S.*"
#: The same rule as the OpenAPI document publishes it (JSON Schema patterns are ECMA-262
#: and match anywhere in the string): one character outside Python's `\s`, spelled out,
#: since ECMA's `\s` differs from Python's on U+001C-U+001F, U+0085 and U+FEFF.
NOTE_NOT_BLANK_ECMA = r"[^\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class ReviewRequestSchema(StrictSchema):
    """Loads `{"action": "approve" | "deny", "note": str}`; a blank note is an error."""

    action = fields.String(required=True, validate=validate.OneOf(["approve", "deny"]))
    note = fields.String(
        required=True,
        validate=[
            validate.Length(max=2000),
            validate.Regexp(NOTE_NOT_BLANK, error="Must not be blank."),
        ],
        metadata={"pattern": NOTE_NOT_BLANK_ECMA},  # in the document instead of the above
    )
