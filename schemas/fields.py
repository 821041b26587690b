"""Custom Marshmallow fields: money in cents, NPI, NDC/HCPCS, dates, decimal strings.

Every field here is strict about JSON types: a money amount, a quantity or a weight
must be a *string* (a JSON number is rejected with a message saying so), an integer
must be a JSON integer and a boolean a JSON boolean. Nothing is ever a float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields

from adjudicator.domain.money import MAX_CENTS, format_money, parse_money

__all__ = [
    "OPENAPI_FIELD_TYPES",
    "Code",
    "Decimal3",
    "DecimalString",
    "Hcpcs",
    "IsoDate",
    "Money",
    "Ndc",
    "Npi",
    "SignedMoney",
    "StrictBoolean",
    "StrictInteger",
    "Text",
    "Timestamp",
    "WeightKg",
    "normalize_drug_code",
    "normalize_ndc",
    "is_text",
    "normalize_service_code",
    "not_in_future",
    "npi_is_valid",
]

_Data = Mapping[str, Any] | None

# [0-9] rather than \d: \d also matches non-ASCII digits, which int() accepts.
_MONEY_SHAPE = re.compile(r"(-?)([0-9]+)\.[0-9]{2}")
_NPI = re.compile(r"[0-9]{10}")
_NDC_11 = re.compile(r"[0-9]{11}")
_NDC_542 = re.compile(r"[0-9]{5}-[0-9]{4}-[0-9]{2}")
_HCPCS = re.compile(r"[A-Za-z][0-9]{4}")
_SERVICE_CODE = re.compile(r"[A-Za-z0-9]{1,20}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _is_json_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _published(kwargs: dict[str, Any], pattern: str) -> dict[str, Any]:
    """A field's keyword arguments with `pattern` (ECMA-262, anchored) in its metadata, where
    apispec finds it for the OpenAPI document; a pattern the metadata names already wins."""
    return {**kwargs, "metadata": {"pattern": pattern, **(kwargs.get("metadata") or {})}}


# --- money --------------------------------------------------------------------


class Money(fields.Field[int]):
    """Money: `"1000.00"` on the wire, int cents in Python; 0 to 999999.99 on load."""

    signed = False
    default_error_messages = {
        "number": 'Money must be a string such as "1000.00", not a JSON number.',
        "invalid": 'Money must be a string with exactly two decimal places, e.g. "1000.00".',
        "negative": "Money may not be negative.",
        "too_large": 'Money may not exceed "999999.99".',
    }

    def __init__(self, **kwargs: Any) -> None:
        sign = "-?" if self.signed else ""
        super().__init__(**_published(kwargs, rf"^{sign}[0-9]+\.[0-9]{{2}}$"))

    def _deserialize(self, value: Any, attr: str | None, data: _Data, **kwargs: Any) -> int:
        if _is_json_number(value):
            raise self.make_error("number")
        match = _MONEY_SHAPE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise self.make_error("invalid")
        if match.group(1) and not self.signed:
            raise self.make_error("negative")
        try:
            return parse_money(value, signed=self.signed)
        except ValueError:
            too_large = int(match.group(2)) * 100 > MAX_CENTS
            raise self.make_error("too_large" if too_large else "invalid") from None

    def _serialize(self, value: int | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"money must be int cents, got {type(value).__name__}")
        if value < 0 and not self.signed:
            raise ValueError(f"money may not be negative: {value} cents")
        return format_money(value)


class SignedMoney(Money):
    """A money delta (`"-1000.00"`): the one money value that may be negative. Dump only."""

    signed = True

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dump_only", True)
        super().__init__(**kwargs)


# --- text ---------------------------------------------------------------------------

#: The control characters no text field holds (API.md, Conventions): C0 and DEL, as the
#: inside of a regular expression's character class (Python's and ECMA-262's alike).
CONTROL_CHARACTERS = r"\x00-\x1f\x7f"
#: What the OpenAPI document says of every Text: no control character anywhere (a JSON
#: Schema `pattern` is ECMA-262 and matches anywhere, hence the anchors).
TEXT_PATTERN = rf"^[^{CONTROL_CHARACTERS}]*$"
_CONTROL = re.compile(rf"[{CONTROL_CHARACTERS}]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # JSON's "\ud800" escape: half a character


def is_text(value: str) -> bool:
    """The string may stand in a text field: no control character, no lone surrogate."""
    return _CONTROL.search(value) is None and _SURROGATE.search(value) is None


class Text(fields.String):
    """Text a client sends: a JSON string (bytes and numbers rejected) without control
    characters (U+0000-U+001F, U+007F: 422, API.md) or lone surrogates (no character at
    all, and no database stores one), then checked by `_parse` (subclasses: a format).

    Every string a request schema or query loads is a Text (tests/integration/
    test_hostile_input.py walks the OpenAPI document for it); the document gives each
    one TEXT_PATTERN, or `openapi_pattern` when the field's own rule is narrower.
    """

    default_error_messages = {
        "invalid": "Not a valid string.",
        "control": "Must not contain control characters (U+0000-U+001F, U+007F).",
        "surrogate": "Must not contain a lone surrogate (U+D800-U+DFFF): not a character.",
    }

    def __init__(self, *, openapi_pattern: str = TEXT_PATTERN, **kwargs: Any) -> None:
        super().__init__(**_published(kwargs, openapi_pattern))

    def _deserialize(self, value: Any, attr: str | None, data: _Data, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if _CONTROL.search(value):
            raise self.make_error("control")
        if _SURROGATE.search(value):
            raise self.make_error("surrogate")
        return self._parse(value)

    def _parse(self, value: str) -> str:
        return value


# --- identifiers ----------------------------------------------------------------


def npi_is_valid(npi: str) -> bool:
    """10 ASCII digits whose last is the Luhn check digit over "80840" + the first nine."""
    if not _NPI.fullmatch(npi):
        return False
    total = 0
    for position, char in enumerate(reversed("80840" + npi)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def normalize_ndc(code: str) -> str:
    """An NDC as 11 digits (`"15054104005"`) or 5-4-2 (`"15054-1040-05"`) -> 11 digits."""
    if _NDC_11.fullmatch(code) or _NDC_542.fullmatch(code):
        return code.replace("-", "")
    raise ValueError('An NDC must be 11 digits or hyphenated 5-4-2, e.g. "15054-1040-05".')


def normalize_drug_code(code: str) -> str:
    """A drug line's code: an NDC (-> 11 digits) or a HCPCS code (-> upper case, "J2170")."""
    if _HCPCS.fullmatch(code):
        return code.upper()
    try:
        return normalize_ndc(code)
    except ValueError:
        raise ValueError(
            "A drug code must be an NDC (11 digits, or hyphenated 5-4-2 like "
            '"15054-1040-05") or a HCPCS code (a letter and 4 digits, like "J2170").'
        ) from None


def normalize_service_code(code: str) -> str:
    """A service line's code (CPT "96372", or any code of up to 20 letters and digits)."""
    if _SERVICE_CODE.fullmatch(code):
        return code.upper()
    raise ValueError('A service code is 1 to 20 letters and digits, e.g. CPT "96372".')


class Npi(Text):
    """A National Provider Identifier: a string of 10 digits with a valid check digit."""

    default_error_messages = {
        "invalid": 'An NPI must be a string of 10 digits, e.g. "1234567893".',
        "check_digit": "Not a valid NPI: the check digit does not match.",
    }

    def _parse(self, value: str) -> str:
        if not _NPI.fullmatch(value):
            raise self.make_error("invalid")
        if not npi_is_valid(value):
            raise self.make_error("check_digit")
        return value


class Ndc(Text):
    """A drug line's code: NDC (11 digits or 5-4-2, returned as 11 digits) or HCPCS.

    With `allow_hcpcs=False` only an NDC is accepted (the terms' `covered_ndcs`).
    """

    def __init__(self, *, allow_hcpcs: bool = True, **kwargs: Any) -> None:
        self.allow_hcpcs = allow_hcpcs
        super().__init__(**kwargs)

    def _parse(self, value: str) -> str:
        try:
            return normalize_drug_code(value) if self.allow_hcpcs else normalize_ndc(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class Hcpcs(Text):
    """A HCPCS Level II code: a letter and 4 digits (`"J2170"`), returned upper case."""

    default_error_messages = {
        "invalid": 'A HCPCS code must be a letter and 4 digits, e.g. "J2170".',
    }

    def _parse(self, value: str) -> str:
        if not _HCPCS.fullmatch(value):
            raise self.make_error("invalid")
        return value.upper()


class Code(Text):
    """A short code matching `pattern` (ASCII), returned upper case.

    Used for service codes (CPT "96372"), BINs, PCNs and reject codes.
    """

    def __init__(self, pattern: str, *, message: str, upper: bool = True, **kwargs: Any):
        self.pattern = re.compile(pattern)
        self.upper = upper
        kwargs["error_messages"] = {"invalid": message, **(kwargs.get("error_messages") or {})}
        super().__init__(**kwargs)

    def _parse(self, value: str) -> str:
        if not self.pattern.fullmatch(value):
            raise self.make_error("invalid")
        return value.upper() if self.upper else value


# --- dates ----------------------------------------------------------------------


class IsoDate(fields.Date):
    """A calendar date as `YYYY-MM-DD` and nothing else (no week dates, no times)."""

    default_error_messages = {
        "invalid": 'Not a valid date: use YYYY-MM-DD, e.g. "2026-03-01".',
    }

    def _deserialize(self, value: Any, attr: str | None, data: _Data, **kwargs: Any) -> date:
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise self.make_error("invalid")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        """A date, or a `YYYY-MM-DD` string read back from a JSON column, -> `YYYY-MM-DD`."""
        if value is None:
            return None
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            value = date.fromisoformat(value)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"IsoDate dumps a date, got {value!r}")
        return value.isoformat()


class Timestamp(fields.DateTime):
    """Dump only: a datetime as ISO 8601 (`2026-03-02T09:30:00+00:00`), a naive one read
    as UTC (every time the ledger stores is UTC); a string that already holds one (e.g.
    read back from a JSON column) is passed through."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, datetime):
            raise TypeError(f"Timestamp dumps a datetime, got {type(value).__name__}")
        if value.tzinfo is None:  # SQLite gives back the UTC time it was given, naive
            value = value.replace(tzinfo=UTC)
        return value.isoformat()


# Keys under which an event's data (and the decisions it embeds) holds cents.
EVENT_MONEY_KEYS = frozenset(
    {
        "program_paid",
        "released",
        "patient_responsibility",
        "eligible",
        "patient_pay",
        "annual_max",
        "used_before",
        "used_after",
        "remaining",
    }
)


class EventData(fields.Dict):
    """An audit event's data as stored, its cents shown as money strings, as everywhere
    else in the API (claim events, GET /v1/audit)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return _money_shown(value)


def _money_shown(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _money_shown(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_money_shown(item) for item in value]
    if key in EVENT_MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return format_money(value)
    return value


def not_in_future(value: date) -> None:
    """Validator: the date is today or earlier (server's local date)."""
    if value > date.today():
        raise ValidationError("Must not be in the future.")


# --- decimal strings ------------------------------------------------------------


class DecimalString(fields.Field[Decimal]):
    """A positive decimal as a string (`"8.000"`), loaded as `decimal.Decimal`.

    `places` is the most decimal places accepted, `integer_digits` the most digits
    before the point. With `quantize=True` the value is returned with exactly
    `places` decimals (so "8" and "8.000" load equal and dump as "8.000").
    JSON numbers are rejected: a float cannot carry an exact decimal.
    """

    default_error_messages = {
        "number": "Must be a decimal string such as {example}, not a JSON number.",
        "invalid": (
            "Must be a decimal string with at most {integer_digits} digits before "
            "the point and {places} after it, e.g. {example}."
        ),
        "not_positive": "Must be greater than 0.",
    }

    def __init__(
        self,
        *,
        places: int,
        integer_digits: int,
        example: str,
        quantize: bool = False,
        **kwargs: Any,
    ) -> None:
        self.places = places
        self.integer_digits = integer_digits
        self.example = example
        self.quantize = quantize
        shape = rf"[0-9]{{1,{integer_digits}}}(\.[0-9]{{1,{places}}})?"
        self._shape = re.compile(shape)
        super().__init__(**_published(kwargs, f"^{shape}$"))

    def _error(self, key: str) -> ValidationError:
        return self.make_error(
            key,
            example=f'"{self.example}"',
            places=self.places,
            integer_digits=self.integer_digits,
        )

    def _deserialize(self, value: Any, attr: str | None, data: _Data, **kwargs: Any) -> Decimal:
        if _is_json_number(value):
            raise self._error("number")
        if not isinstance(value, str) or not self._shape.fullmatch(value):
            raise self._error("invalid")
        number = Decimal(value)
        if number <= 0:
            raise self._error("not_positive")
        return number.quantize(Decimal(1).scaleb(-self.places)) if self.quantize else number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        """A Decimal, or a decimal string read back from a JSON column; never a float."""
        if value is None:
            return None
        if isinstance(value, str) and self._shape.fullmatch(value):
            value = Decimal(value)
        if not isinstance(value, Decimal):
            raise TypeError(f"decimal fields dump a Decimal, got {value!r}")
        if self.quantize:
            value = value.quantize(Decimal(1).scaleb(-self.places))
        return f"{value:f}"


class Decimal3(DecimalString):
    """A quantity: `"8.000"`, > 0, up to 3 decimals (NCPDP 442-E7: 9999999.999).

    Loaded as a Decimal quantized to 3 places; dumped as `"8.000"`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=3, integer_digits=7, example="8.000", quantize=True, **kwargs)


class WeightKg(DecimalString):
    """A body weight in kg: `"25.0"`, > 0, up to 3 digits and 2 decimals, kept as sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=2, integer_digits=3, example="25.0", **kwargs)


# --- JSON scalars, strictly ---------------------------------------------------------


class StrictBoolean(fields.Boolean):
    """A JSON `true` or `false`; strings and numbers ("true", 1) are rejected."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value: Any, attr: str | None, data: _Data, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer; strings, floats (1.0) and booleans are rejected."""

    default_error_messages = {"invalid": "Must be an integer."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)


#: The OpenAPI (type, format) of the fields that do not derive from a core string
#: field; register them with flask-smorest: `api.register_field(cls, *pair)`.
OPENAPI_FIELD_TYPES: dict[type[fields.Field[Any]], tuple[str, str | None]] = {
    Money: ("string", None),
    DecimalString: ("string", "decimal"),
}
