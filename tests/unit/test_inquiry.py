"""NCPDP E1 eligibility in the domain: rules 2 to 6 on a date, with a claim's exceptions."""

from __future__ import annotations

from datetime import date

import pytest

from adjudicator.domain.inquiry import ELIGIBILITY_RULES, EligibilityAnswer, check_eligibility
from adjudicator.domain.model import ClaimContext
from adjudicator.domain.rules import RULES
from tests.unit.test_adjudicate import (
    BORN,
    SERVED,
    TERMS,
    a_context,
    a_year,
    an_ineligible_year,
    no_member,
)

pytestmark = pytest.mark.unit

YEAR_2026 = a_year()  # 2026-01-01 .. 2026-12-31
YEAR_2028 = a_year(
    enrollment_id="enr-3", period_start=date(2028, 1, 1), period_end=date(2028, 12, 31)
)


def ask(
    context: ClaimContext | None = None,
    *,
    on: date = SERVED,
    born: date | None = BORN,
    chain: str | None = None,
) -> EligibilityAnswer:
    context = context or a_context()
    if chain is not None:
        context = ClaimContext(context.member_exists, context.years, chain)
    return check_eligibility(
        cardholder_id="IC0001",
        date_of_birth=born,
        date_of_service=on,
        pharmacy_npi="1234567893",
        ctx=context,
        terms=TERMS,
    )


def codes(answer: EligibilityAnswer) -> list[str]:
    return [r.code for r in answer.rejects]


def test_an_enrolled_patient_at_a_network_pharmacy_is_eligible_with_the_year_shown():
    answer = ask()

    assert answer == EligibilityAnswer((), YEAR_2026)


def test_without_a_date_of_birth_the_rule_is_not_asked():
    assert ask(born=None) == EligibilityAnswer((), YEAR_2026)


def test_the_product_is_not_asked():
    # An inquiry carries no line: a claim with none would fail rule 7 (70).
    assert "70" not in codes(ask())


def test_an_unknown_cardholder_is_52_and_nothing_more_is_known():
    answer = ask(no_member())

    assert [(r.rule, r.code, r.message) for r in answer.rejects] == [
        ("cardholder", "52", "Non-Matched Cardholder ID")
    ]
    assert answer.year is None


def test_an_unknown_cardholder_at_a_pharmacy_outside_the_network_is_40_alone():
    assert codes(ask(no_member(), chain="corner drugstore")) == ["40"]


def test_a_date_of_birth_that_differs_is_09_and_tells_no_coverage():
    answer = ask(born=date(2015, 4, 3))

    assert codes(answer) == ["09"]
    assert answer.year is None  # no benefit period, no remaining


def test_after_a_09_an_ineligible_year_is_65_without_its_reason():
    answer = ask(a_context(an_ineligible_year("government_program")), born=date(2015, 4, 3))

    assert [(r.code, r.message) for r in answer.rejects] == [
        ("09", "M/I Date Of Birth"),
        ("65", "Patient Is Not Covered"),
    ]
    assert answer.year is None


def test_an_ineligible_year_is_65_naming_the_reason_and_shows_the_year():
    year = an_ineligible_year("government_program", "other_assistance")

    answer = ask(a_context(year))

    assert [(r.code, r.message) for r in answer.rejects] == [
        ("65", "Patient Is Not Covered: government_program, other_assistance")
    ]
    assert answer.year == year  # the benefit is told on a 65


def test_a_pharmacy_outside_the_network_is_40_alone_and_tells_no_coverage():
    year = an_ineligible_year("government_program")

    answer = ask(a_context(year), born=date(2015, 4, 3), chain="corner drugstore")

    assert [(r.rule, r.code) for r in answer.rejects] == [("network", "40")]
    assert answer.year is None


@pytest.mark.parametrize("chain", ["Accredo", "cvs-specialty", "BriovaRx", "Walgreens Specialty"])
def test_network_chains_are_matched_as_for_claims(chain: str):
    assert codes(ask(chain=chain)) == []


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2025, 12, 31), ["67"]),  # before the first year
        (date(2026, 1, 1), []),
        (date(2026, 12, 31), []),
        (date(2027, 6, 1), ["68"]),  # in the gap between two years
        (date(2028, 1, 1), []),
        (date(2029, 1, 1), ["68"]),  # after the last year
    ],
)
def test_coverage_dates_before_in_a_gap_and_after_the_years(on: date, expected: list[str]):
    answer = ask(a_context(YEAR_2026, YEAR_2028), on=on)

    assert codes(answer) == expected
    assert (answer.year is not None) is (expected == [])
    if answer.year is not None:
        assert answer.year.contains(on)


def test_a_member_without_any_year_is_67():
    assert codes(ask(ClaimContext(member_exists=True, years=(), pharmacy_chain="accredo"))) == [
        "67"
    ]


def test_the_date_of_birth_is_checked_against_the_latest_year_when_none_contains_the_date():
    # As for claims: 68 and 09 together, and still no coverage told.
    answer = ask(a_context(YEAR_2026), on=date(2027, 6, 1), born=date(2015, 4, 3))

    assert codes(answer) == ["09", "68"]
    assert answer.year is None


def test_every_rule_an_inquiry_runs_is_a_claim_rule_in_the_claim_order():
    ids = [rule.id for rule in RULES]
    assert list(ELIGIBILITY_RULES) == ids[1:6]


def test_rules_that_need_what_an_earlier_failure_lacks_are_skipped():
    # 52: no member, so neither the date of birth, coverage dates nor enrollment run.
    assert codes(ask(no_member(), born=date(1990, 1, 1), on=date(2019, 1, 1))) == ["52"]
