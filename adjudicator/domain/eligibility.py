"""Eligibility at enrollment and the 12-month benefit period of an enrollment year."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from adjudicator.domain.model import Eligibility, EnrollmentFacts, Reason
from adjudicator.domain.terms import Terms

# fmt: off
_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY",
})
# fmt: on
_TERRITORIES = frozenset({"PR", "GU", "VI", "AS", "MP"})
_MILITARY_MAIL = frozenset({"AA", "AE", "AP"})
VALID_STATES = _STATES | {"DC"} | _TERRITORIES | _MILITARY_MAIL


def benefit_period(effective: date) -> tuple[date, date]:
    """The 12 months from `effective`: 2026-03-15 runs through 2027-03-14."""
    try:
        anniversary = effective.replace(year=effective.year + 1)
    except ValueError:  # Feb 29 has no anniversary: the year ends on Feb 28
        anniversary = date(effective.year + 1, 3, 1)
    return effective, anniversary - timedelta(days=1)


def evaluate_enrollment(facts: EnrollmentFacts, terms: Terms) -> Eligibility:
    """Status, reasons (in the order of the eligibility table) and cash-pay of one year."""
    reasons = tuple(
        Reason(code, message) for code, message, holds in _CHECKS if holds(facts, terms)
    )
    return Eligibility(
        status="ineligible" if reasons else "active",
        reasons=reasons,
        cash_pay=is_cash_pay(facts),
    )


def is_cash_pay(facts: EnrollmentFacts) -> bool:
    """Uninsured, or commercial insurance that does not cover the product."""
    coverage = facts.coverage
    return coverage.type == "uninsured" or (
        coverage.type == "commercial" and not coverage.covers_product
    )


def _government_program(facts: EnrollmentFacts, terms: Terms) -> bool:
    return (
        facts.coverage.type in terms.excluded_coverage_types
        or facts.attestations.government_program
    )


def _other_assistance(facts: EnrollmentFacts, terms: Terms) -> bool:
    return facts.attestations.other_assistance


def _outside_us(facts: EnrollmentFacts, terms: Terms) -> bool:
    address = facts.patient.address
    return address.country.strip().upper() != "US" or _state(facts) not in VALID_STATES


def _excluded_jurisdiction(facts: EnrollmentFacts, terms: Terms) -> bool:
    return _state(facts) in terms.excluded_jurisdictions


def _state(facts: EnrollmentFacts) -> str:
    return facts.patient.address.state.strip().upper()


_CHECKS: tuple[tuple[str, str, Callable[[EnrollmentFacts, Terms], bool]], ...] = (
    (
        "government_program",
        "Patients enrolled in a state or federally funded program (Medicare, Medicaid, "
        "Medigap, VA, DoD, TRICARE or other) are not eligible.",
        _government_program,
    ),
    (
        "other_assistance",
        "Patients receiving help from another assistance program, foundation, free trial "
        "or similar offer are not eligible during this enrollment year.",
        _other_assistance,
    ),
    (
        "outside_us",
        "The program is void outside the United States and its territories.",
        _outside_us,
    ),
    (
        "excluded_jurisdiction",
        "The program is void where prohibited by law, taxed or restricted.",
        _excluded_jurisdiction,
    ),
)
