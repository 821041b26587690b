"""Eligibility at enrollment and the benefit period of an enrollment year."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from adjudicator.domain.eligibility import VALID_STATES, benefit_period, evaluate_enrollment
from adjudicator.domain.model import (
    Address,
    Attestations,
    Coverage,
    Eligibility,
    EnrollmentFacts,
    Patient,
)
from tests.unit.test_adjudicate import TERMS

pytestmark = pytest.mark.unit


def enrollment(
    coverage: Coverage | None = None,
    state: str = "MA",
    country: str = "US",
    **attested: bool,
) -> EnrollmentFacts:
    """Olive from API.md: commercially insured, living in Boston, nothing attested."""
    address = Address("1 Main St", "Boston", state, "02139", country)
    return EnrollmentFacts(
        patient=Patient("Olive", "Example", date(2015, 4, 2), address, "F"),
        coverage=coverage or Coverage("commercial", payer_name="Acme Health", bin="003858"),
        attestations=Attestations(**attested),
        effective_date=date(2026, 1, 1),
    )


def reason_codes(eligibility: Eligibility) -> list[str]:
    return [reason.code for reason in eligibility.reasons]


# --- the benefit period ---------------------------------------------------------


@pytest.mark.parametrize(
    ("effective", "end"),
    [
        (date(2026, 3, 15), date(2027, 3, 14)),
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2027, 3, 1), date(2028, 2, 29)),
        (date(2026, 12, 31), date(2027, 12, 30)),
    ],
)
def test_an_enrollment_year_covers_twelve_months_from_its_effective_date(
    effective: date, end: date
) -> None:
    assert benefit_period(effective) == (effective, end)


# --- eligible patients and cash-pay ---------------------------------------------


def test_a_commercially_insured_us_patient_is_active_and_not_cash_pay() -> None:
    assert evaluate_enrollment(enrollment(), TERMS) == Eligibility("active", (), cash_pay=False)


@pytest.mark.parametrize(
    ("coverage", "cash_pay"),
    [
        (Coverage("uninsured"), True),
        (Coverage("commercial", covers_product=False), True),
        (Coverage("commercial", covers_product=True), False),
        (Coverage("medicare_part_d", covers_product=False), False),
    ],
    ids=["uninsured", "commercial-not-covering", "commercial-covering", "part-d-donut-hole"],
)
def test_cash_pay_means_uninsured_or_commercial_that_does_not_cover_the_product(
    coverage: Coverage, cash_pay: bool
) -> None:
    assert evaluate_enrollment(enrollment(coverage), TERMS).cash_pay is cash_pay


# --- each reason ----------------------------------------------------------------


@pytest.mark.parametrize("coverage_type", TERMS.excluded_coverage_types)
def test_a_patient_in_a_government_program_is_ineligible(coverage_type: str) -> None:
    eligibility = evaluate_enrollment(enrollment(Coverage(coverage_type)), TERMS)
    assert eligibility.status == "ineligible"
    assert reason_codes(eligibility) == ["government_program"]


def test_a_part_d_patient_in_the_coverage_gap_is_neither_eligible_nor_cash_pay() -> None:
    eligibility = evaluate_enrollment(enrollment(Coverage("medicare_part_d")), TERMS)
    assert (eligibility.status, eligibility.cash_pay) == ("ineligible", False)


def test_attesting_a_state_or_federal_program_makes_a_commercial_patient_ineligible() -> None:
    eligibility = evaluate_enrollment(enrollment(government_program=True), TERMS)
    assert reason_codes(eligibility) == ["government_program"]


def test_help_from_another_assistance_program_makes_the_patient_ineligible() -> None:
    eligibility = evaluate_enrollment(enrollment(other_assistance=True), TERMS)
    assert eligibility.status == "ineligible"
    assert reason_codes(eligibility) == ["other_assistance"]


@pytest.mark.parametrize(
    ("state", "country"), [("ON", "CA"), ("MA", "CA"), ("ON", "US"), ("", "US"), ("MA", "")]
)
def test_a_patient_living_outside_the_us_is_ineligible(state: str, country: str) -> None:
    eligibility = evaluate_enrollment(enrollment(state=state, country=country), TERMS)
    assert reason_codes(eligibility) == ["outside_us"]


@pytest.mark.parametrize("state", ["DC", "PR", "GU", "VI", "AS", "MP", "AA", "AE", "AP"])
def test_dc_the_territories_and_military_mail_are_in_the_us(state: str) -> None:
    assert evaluate_enrollment(enrollment(state=state), TERMS).status == "active"


def test_the_us_has_fifty_states_dc_five_territories_and_three_military_codes() -> None:
    assert len(VALID_STATES) == 50 + 1 + 5 + 3


def test_state_and_country_are_read_regardless_of_case() -> None:
    assert evaluate_enrollment(enrollment(state="ma", country="us"), TERMS).status == "active"


def test_a_jurisdiction_the_terms_exclude_makes_the_patient_ineligible() -> None:
    terms = replace(TERMS, excluded_jurisdictions=("MA",))
    eligibility = evaluate_enrollment(enrollment(state="MA"), terms)
    assert reason_codes(eligibility) == ["excluded_jurisdiction"]


def test_no_jurisdiction_is_excluded_in_2020_01() -> None:
    for state in VALID_STATES:
        assert evaluate_enrollment(enrollment(state=state), TERMS).status == "active"


def test_every_reason_is_given_in_the_order_of_the_eligibility_table() -> None:
    terms = replace(TERMS, excluded_jurisdictions=("ZZ",))
    facts: Any = enrollment(
        Coverage("medicaid"), state="ZZ", government_program=True, other_assistance=True
    )
    eligibility = evaluate_enrollment(facts, terms)
    assert reason_codes(eligibility) == [
        "government_program",
        "other_assistance",
        "outside_us",
        "excluded_jurisdiction",
    ]
    assert all(reason.message.endswith(".") for reason in eligibility.reasons)
