"""The program terms: every number and list the rules read, as a versioned document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from adjudicator.domain.money import Cents, format_money, parse_money

# fullmatch and [0-9]: "$" would let a trailing newline in, and \d any Unicode digit.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")  # plain digits only, so str() round-trips
_NDC = re.compile(r"[0-9]{11}")
_STATE = re.compile(r"[A-Z]{2}")
_BIN = re.compile(r"[0-9]{6}")
_PCN = re.compile(r"[A-Za-z0-9]{1,10}")
_GROUP = re.compile(r"[!-~]{1,15}")  # printable ASCII without spaces: D.0 pads with spaces


@dataclass(frozen=True)
class GovernmentPayer:
    """A government plan: the program does not pay after it (matched on BIN, and PCN if named)."""

    bin: str
    pcn: str | None = None

    def matches(self, payer_bin: str | None, payer_pcn: str | None) -> bool:
        return self.bin == payer_bin and (self.pcn is None or self.pcn == payer_pcn)


@dataclass(frozen=True)
class Routing:
    """Where a pharmacy sends a D.0 claim for this program: the card's BIN, PCN and group."""

    bin: str
    pcn: str
    group_id: str


@dataclass(frozen=True)
class Terms:
    program_id: str
    version: str
    effective_date: date
    annual_max: Cents
    cash_pay_per_rx_max: Cents
    covered_ndcs: tuple[str, ...]
    covered_hcpcs: tuple[str, ...]
    covered_service_codes: tuple[str, ...]
    drug_only_states: tuple[str, ...]
    excluded_coverage_types: tuple[str, ...]
    government_payers: tuple[GovernmentPayer, ...]
    product_not_covered_reject_codes: tuple[str, ...]
    network_chains: tuple[str, ...]
    excluded_jurisdictions: tuple[str, ...]
    minimum_age_years: int
    max_dose_mg_per_kg_per_day: Decimal
    concentration_mg_per_ml: Decimal
    routing: Routing

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Terms:
        """Build terms from the JSON document; ValueError("field: problem") on bad values."""
        if not isinstance(doc, Mapping):
            raise ValueError("the terms document must be a JSON object")
        _check_fields(doc)
        return cls(**{name: _parse(name, parse, doc[name]) for name, parse in _PARSERS.items()})

    def to_document(self) -> dict[str, Any]:
        """The JSON document, exactly as GET /v1/terms/{version} answers it."""
        return {
            "program_id": self.program_id,
            "version": self.version,
            "effective_date": self.effective_date.isoformat(),
            "annual_max": format_money(self.annual_max),
            "cash_pay_per_rx_max": format_money(self.cash_pay_per_rx_max),
            "covered_ndcs": list(self.covered_ndcs),
            "covered_hcpcs": list(self.covered_hcpcs),
            "covered_service_codes": list(self.covered_service_codes),
            "drug_only_states": list(self.drug_only_states),
            "excluded_coverage_types": list(self.excluded_coverage_types),
            "government_payers": [{"bin": p.bin, "pcn": p.pcn} for p in self.government_payers],
            "product_not_covered_reject_codes": list(self.product_not_covered_reject_codes),
            "network_chains": list(self.network_chains),
            "excluded_jurisdictions": list(self.excluded_jurisdictions),
            "minimum_age_years": self.minimum_age_years,
            "max_dose_mg_per_kg_per_day": str(self.max_dose_mg_per_kg_per_day),
            "concentration_mg_per_ml": str(self.concentration_mg_per_ml),
            "routing": {
                "bin": self.routing.bin,
                "pcn": self.routing.pcn,
                "group_id": self.routing.group_id,
            },
        }


def bundled_terms() -> tuple[Terms, ...]:
    """Every terms version shipped in adjudicator/terms/, oldest first."""
    folder = resources.files("adjudicator").joinpath("terms")
    files = (f for f in folder.iterdir() if f.name.endswith(".json"))
    versions = (Terms.from_document(json.loads(f.read_text(encoding="utf-8"))) for f in files)
    return tuple(sorted(versions, key=_recency))


def terms_in_force(versions: Iterable[Terms], on: date) -> Terms:
    """The latest version whose effective date is on or before `on`."""
    candidates = [t for t in versions if t.effective_date <= on]
    if not candidates:
        raise ValueError(f"no terms version is in force on {on.isoformat()}")
    return max(candidates, key=_recency)


def terms_for_claim(versions: Iterable[Terms], on: date) -> Terms:
    """The version in force on a claim's date of service; before every version, the
    first one. Such a claim still gets a decision: no enrollment year starts before the
    first version (enrolling needs terms in force), so it fails rule 4 (67), or 52."""
    versions = tuple(versions)
    if versions and all(t.effective_date > on for t in versions):
        return min(versions, key=_recency)
    return terms_in_force(versions, on)


def routing_on(versions: Iterable[Terms], on: date | None) -> Routing:
    """The routing of the version in force on `on` (terms_for_claim); the first version's
    when `on` is None (a date that could not be read) or before every version. It is also
    what a version posted without a routing takes, `on` being its effective date."""
    versions = tuple(versions)
    if on is None:
        if not versions:
            raise ValueError("there is no terms version")
        return min(versions, key=_recency).routing
    return terms_for_claim(versions, on).routing


def _recency(terms: Terms) -> tuple[date, str]:
    # Two versions effective the same day: the later version name wins ("2020-02" > "2020-01").
    return terms.effective_date, terms.version


# --- parsing the document -------------------------------------------------------


def _check_fields(doc: Mapping[str, Any]) -> None:
    missing = [name for name in _PARSERS if name not in doc]
    unknown = sorted(str(name) for name in doc if name not in _PARSERS)
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")


def _parse(name: str, parse: Callable[[Any], Any], value: Any) -> Any:
    try:
        return parse(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _code(value: Any) -> str:
    """A code compared with claims' upper-case codes: a document stored before the schema
    upper-cased them (decisions.md #74) still matches."""
    return _text(value).strip().upper()


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return parse


def _list_of(parse: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    def parse_list(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ValueError("must be a list")
        return tuple(parse(item) for item in value)

    return parse_list


def _iso_date(value: Any) -> date:
    return date.fromisoformat(_matching(_DATE, "a date YYYY-MM-DD")(value))


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _positive_decimal(value: Any) -> Decimal:
    number = Decimal(_matching(_DECIMAL, 'a decimal string such as "0.24"')(value))
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _government_payer(value: Any) -> GovernmentPayer:
    if not isinstance(value, Mapping) or "bin" not in value or set(value) - {"bin", "pcn"}:
        raise ValueError('each entry must be {"bin", "pcn"}')
    pcn = value.get("pcn")
    return GovernmentPayer(_BIN_TEXT(value["bin"]), None if pcn is None else _text(pcn))


def _routing(value: Any) -> Routing:
    if not isinstance(value, Mapping) or set(value) != {"bin", "pcn", "group_id"}:
        raise ValueError('must be {"bin", "pcn", "group_id"}')
    return Routing(
        _BIN_TEXT(value["bin"]),
        _matching(_PCN, "a PCN of 1 to 10 letters or digits")(value["pcn"]),
        _matching(_GROUP, "a group id of 1 to 15 characters, no spaces")(value["group_id"]),
    )


_BIN_TEXT = _matching(_BIN, "a 6-digit BIN")
_PARSERS: dict[str, Callable[[Any], Any]] = {
    "program_id": _text,
    "version": _text,
    "effective_date": _iso_date,
    "annual_max": parse_money,
    "cash_pay_per_rx_max": parse_money,
    "covered_ndcs": _list_of(_matching(_NDC, "an 11-digit NDC without hyphens")),
    "covered_hcpcs": _list_of(_code),
    "covered_service_codes": _list_of(_code),
    "drug_only_states": _list_of(_matching(_STATE, "a 2-letter state code")),
    "excluded_coverage_types": _list_of(_text),
    "government_payers": _list_of(_government_payer),
    "product_not_covered_reject_codes": _list_of(_code),
    "network_chains": _list_of(_text),
    "excluded_jurisdictions": _list_of(_matching(_STATE, "a 2-letter state code")),
    "minimum_age_years": _count,
    "max_dose_mg_per_kg_per_day": _positive_decimal,
    "concentration_mg_per_ml": _positive_decimal,
    "routing": _routing,
}
