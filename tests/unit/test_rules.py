"""Claim rules 1-10, each on its own: when it fails, with which NCPDP code and text."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from adjudicator.domain import rules
from adjudicator.domain.model import (
    Claim,
    ClaimContext,
    Cob,
    EnrollmentYear,
    Line,
    RejectCode,
)
from adjudicator.domain.rules import ClaimFacts, age_on, chain_key, claim_is_cash_pay
from adjudicator.domain.terms import GovernmentPayer, Terms
from tests.unit.test_adjudicate import (
    BORN,
    TERMS,
    a_cash_claim,
    a_cash_pay_year,
    a_claim,
    a_context,
    a_year,
    an_ineligible_year,
    drug,
    no_member,
    service,
)

pytestmark = pytest.mark.unit


def facts(
    claim: Claim | None = None,
    context: ClaimContext | None = None,
    terms: Terms = TERMS,
) -> ClaimFacts:
    """The facts as evaluate() builds them: the year is the one containing the service date."""
    claim = claim or a_claim()
    context = context or a_context()
    year = next((y for y in context.years if y.contains(claim.date_of_service)), None)
    return ClaimFacts(claim, context, terms, year)


def code_of(result: RejectCode | None) -> str | None:
    return None if result is None else result.code


def test_the_rules_run_in_the_order_of_the_program_terms() -> None:
    assert [rule.id for rule in rules.RULES] == [
        "duplicate",
        "cardholder",
        "date_of_birth",
        "coverage_dates",
        "enrollment_eligible",
        "network",
        "product",
        "other_coverage",
        "patient_age",
        "dose",
    ]


def test_a_rule_that_needs_the_year_refuses_to_run_without_one() -> None:
    with pytest.raises(LookupError):
        rules.patient_age(facts(a_claim(date_of_service=date(2030, 1, 1))))


# --- 1 duplicate, 2 cardholder --------------------------------------------------


def test_a_different_claim_with_the_key_of_a_paid_claim_is_rejected_with_83() -> None:
    result = rules.duplicate(facts(context=a_context(other_paid_claim_with_same_key=True)))
    assert result == RejectCode("duplicate", "83", "Duplicate Paid/Captured Claim")


def test_a_claim_with_a_new_key_is_not_a_duplicate() -> None:
    assert rules.duplicate(facts()) is None


def test_an_unknown_cardholder_is_rejected_with_52() -> None:
    result = rules.cardholder(facts(context=no_member()))
    assert result == RejectCode("cardholder", "52", "Non-Matched Cardholder ID")


def test_a_known_cardholder_passes() -> None:
    assert rules.cardholder(facts()) is None


# --- 3 date of birth ------------------------------------------------------------


def test_a_date_of_birth_that_differs_from_the_enrollment_is_rejected_with_09() -> None:
    result = rules.date_of_birth(facts(a_claim(date_of_birth=date(2015, 4, 3))))
    assert result == RejectCode("date_of_birth", "09", "M/I Date Of Birth")


def test_the_enrolled_date_of_birth_passes() -> None:
    assert rules.date_of_birth(facts(a_claim(date_of_birth=BORN))) is None


def test_a_claim_without_a_date_of_birth_passes_that_rule() -> None:
    assert rules.date_of_birth(facts(a_claim(date_of_birth=None))) is None


def test_outside_every_year_the_latest_years_date_of_birth_is_compared() -> None:
    corrected = a_year(
        period_start=date(2027, 1, 1), period_end=date(2027, 12, 31), date_of_birth=date(2015, 4, 3)
    )
    context = a_context(corrected, a_year())
    late = a_claim(date_of_service=date(2028, 6, 1), date_of_birth=date(2015, 4, 3))
    assert rules.date_of_birth(facts(late, context)) is None
    assert code_of(rules.date_of_birth(facts(replace(late, date_of_birth=BORN), context))) == "09"


def test_a_member_without_years_has_no_date_of_birth_to_compare() -> None:
    context = a_context(a_year(), years=())
    assert rules.date_of_birth(facts(a_claim(date_of_birth=BORN), context)) is None


# --- 4 coverage dates -----------------------------------------------------------


def next_year() -> EnrollmentYear:
    return a_year(enrollment_id="e2", period_start=date(2027, 3, 1), period_end=date(2028, 2, 29))


BEFORE = RejectCode("coverage_dates", "67", "Filled Before Coverage Effective")
AFTER = RejectCode("coverage_dates", "68", "Filled After Coverage Expired")


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        (date(2025, 12, 31), BEFORE),
        (date(2027, 1, 15), AFTER),
        (date(2028, 3, 1), AFTER),
        (date(2026, 1, 1), None),
        (date(2026, 12, 31), None),
        (date(2028, 2, 29), None),
    ],
    ids=["before-the-first-year", "in-a-gap", "after-the-last-year", "first-day", "last-day",
         "leap-day-end"],
)  # fmt: skip
def test_the_date_of_service_must_fall_in_an_enrollment_year(
    served: date, expected: RejectCode | None
) -> None:
    context = a_context(next_year(), a_year())
    assert rules.coverage_dates(facts(a_claim(date_of_service=served), context)) == expected


def test_a_member_without_any_year_was_never_covered_so_67() -> None:
    context = a_context(a_year(), years=())
    assert code_of(rules.coverage_dates(facts(context=context))) == "67"


# --- 5 enrollment eligible ------------------------------------------------------


@pytest.mark.parametrize(
    "reason", ["government_program", "other_assistance", "outside_us", "excluded_jurisdiction"]
)
def test_an_ineligible_enrollment_is_rejected_with_65_naming_the_reason(reason: str) -> None:
    result = rules.enrollment_eligible(facts(context=a_context(an_ineligible_year(reason))))
    assert result == RejectCode("enrollment_eligible", "65", f"Patient Is Not Covered: {reason}")


def test_the_65_message_names_every_reason() -> None:
    year = an_ineligible_year("government_program", "outside_us")
    result = rules.enrollment_eligible(facts(context=a_context(year)))
    assert result is not None
    assert result.message == "Patient Is Not Covered: government_program, outside_us"


def test_an_ineligible_enrollment_without_recorded_reasons_still_gets_65() -> None:
    result = rules.enrollment_eligible(facts(context=a_context(an_ineligible_year())))
    assert result == RejectCode("enrollment_eligible", "65", "Patient Is Not Covered")


def test_an_active_enrollment_passes() -> None:
    assert rules.enrollment_eligible(facts()) is None


def test_when_the_date_of_birth_does_not_match_the_65_names_no_reason() -> None:
    wrong_patient = a_claim(date_of_birth=date(2015, 4, 3))
    context = a_context(an_ineligible_year("government_program"))
    result = rules.enrollment_eligible(facts(wrong_patient, context))
    assert result == RejectCode("enrollment_eligible", "65", "Patient Is Not Covered")


# --- 6 network ------------------------------------------------------------------


@pytest.mark.parametrize(
    "chain",
    ["accredo", "optum_specialty", "briovarx", "cvs_specialty", "walgreens_specialty",
     "BriovaRx", "CVS Specialty", " walgreens-specialty "],
)  # fmt: skip
def test_pharmacies_of_the_specialty_network_are_contracted(chain: str) -> None:
    assert rules.network(facts(context=a_context(pharmacy_chain=chain))) is None


@pytest.mark.parametrize("chain", ["corner_drugs", "cvs", "", "accredo_retail"])
def test_a_pharmacy_outside_the_network_is_rejected_with_40(chain: str) -> None:
    result = rules.network(facts(context=a_context(pharmacy_chain=chain)))
    assert result == RejectCode(
        "network", "40", "Pharmacy Not Contracted With Plan On Date Of Service"
    )


def test_chain_names_are_compared_as_lower_case_words_joined_by_underscores() -> None:
    assert chain_key("  Walgreens - Specialty ") == "walgreens_specialty"


# --- 7 product ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [drug(code="15054104005"), drug(code="15054-1040-05"), drug(code="J2170", quantity="30")],
    ids=["hyphen-free-ndc", "hyphenated-ndc", "hcpcs-j2170"],
)
def test_a_claim_with_a_covered_drug_line_passes_the_product_rule(line: Line) -> None:
    assert rules.product(facts(a_claim(line, service()))) is None


@pytest.mark.parametrize(
    "lines",
    [
        (drug(code="00002771501"),),
        (service(),),
        (Line("service", "15054104005", 100),),
        (Line("drug", "96372", 100, Decimal(1), 1),),
    ],
    ids=["other-ndc", "service-only", "ndc-billed-as-service", "service-code-billed-as-drug"],
)
def test_a_claim_without_a_covered_drug_line_is_rejected_with_70(lines: tuple[Line, ...]) -> None:
    result = rules.product(facts(a_claim(*lines)))
    assert result == RejectCode("product", "70", "Product/Service Not Covered")


# --- 8 other coverage -----------------------------------------------------------


def with_cob(code: int, bin_: str | None = None, pcn: str | None = None, *rejects: str) -> Claim:
    return a_claim(cob=Cob(code, bin_, pcn, tuple(rejects)))


def test_no_other_coverage_passes_for_a_cash_pay_enrollment() -> None:
    assert rules.other_coverage(facts(a_cash_claim(), a_context(a_cash_pay_year()))) is None


def test_no_other_coverage_for_an_insured_enrollment_is_rejected_with_41() -> None:
    result = rules.other_coverage(facts(a_cash_claim()))
    assert result == RejectCode(
        "other_coverage", "41", "Submit Bill To Other Processor Or Primary Payer"
    )


def test_no_other_coverage_is_not_judged_without_a_year() -> None:
    late = a_cash_claim(date_of_service=date(2030, 1, 1))
    assert rules.other_coverage(facts(late)) is None


def test_a_commercial_secondary_claim_with_the_payers_bin_passes() -> None:
    assert rules.other_coverage(facts(with_cob(8, "003858", "A4"))) is None


@pytest.mark.parametrize("bin_", [None, ""])
def test_a_secondary_claim_without_the_other_payers_bin_is_rejected_with_13(
    bin_: str | None,
) -> None:
    result = rules.other_coverage(facts(with_cob(8, bin_)))
    assert result == RejectCode("other_coverage", "13", "M/I Other Coverage Code")


def test_a_secondary_claim_after_medicare_part_d_is_rejected_with_65() -> None:
    result = rules.other_coverage(facts(with_cob(8, "610014", "MEDDPRIME")))
    assert result == RejectCode("other_coverage", "65", "Patient Is Not Covered: government_payer")


@pytest.mark.parametrize("pcn", ["A4", None])
def test_the_medicare_bin_with_another_pcn_is_a_commercial_payer(pcn: str | None) -> None:
    assert rules.other_coverage(facts(with_cob(8, "610014", pcn))) is None


def test_a_government_payer_listed_without_a_pcn_matches_every_pcn() -> None:
    terms = replace(TERMS, government_payers=(GovernmentPayer("004336"),))
    result = rules.other_coverage(facts(with_cob(8, "004336", "ANY"), terms=terms))
    assert code_of(result) == "65"


@pytest.mark.parametrize("reject_code", ["70", "MR"])
def test_a_primary_that_does_not_cover_the_product_makes_code_3_pass(reject_code: str) -> None:
    claim = with_cob(3, "003858", "A4", "75", reject_code)
    assert rules.other_coverage(facts(claim)) is None
    assert claim_is_cash_pay(claim, a_year(), TERMS) is True


def test_a_primary_rejecting_for_prior_authorization_is_rejected_with_41() -> None:
    claim = with_cob(3, "003858", "A4", "75")
    assert code_of(rules.other_coverage(facts(claim))) == "41"
    assert claim_is_cash_pay(claim, a_year(), TERMS) is False


def test_code_3_without_the_primarys_reject_codes_is_rejected_with_6e() -> None:
    result = rules.other_coverage(facts(with_cob(3, "003858")))
    assert result == RejectCode("other_coverage", "6E", "M/I Other Payer Reject Code")


@pytest.mark.parametrize("code", [0, 2, 4, 5, 9])
def test_other_coverage_codes_the_program_does_not_take_are_rejected_with_13(code: int) -> None:
    result = rules.other_coverage(facts(with_cob(code, "003858")))
    assert result == RejectCode("other_coverage", "13", "M/I Other Coverage Code")


def test_a_claim_with_no_other_coverage_follows_the_enrollments_cash_pay() -> None:
    assert claim_is_cash_pay(a_cash_claim(), a_cash_pay_year(), TERMS) is True
    assert claim_is_cash_pay(a_cash_claim(), a_year(), TERMS) is False
    assert claim_is_cash_pay(a_cash_claim(), None, TERMS) is False
    assert claim_is_cash_pay(a_claim(), a_cash_pay_year(), TERMS) is False


# --- 9 patient age --------------------------------------------------------------


def born(day: date) -> ClaimContext:
    return a_context(a_year(date_of_birth=day))


def test_a_patient_under_2_is_rejected_with_60() -> None:
    result = rules.patient_age(facts(context=born(date(2024, 3, 2))))
    assert result == RejectCode("patient_age", "60", "Product/Service Not Covered For Patient Age")


def test_a_patient_is_2_on_the_second_birthday() -> None:
    assert rules.patient_age(facts(context=born(date(2024, 3, 1)))) is None


def test_the_minimum_age_comes_from_the_terms() -> None:
    terms = replace(TERMS, minimum_age_years=12)
    assert code_of(rules.patient_age(facts(terms=terms))) == "60"


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2020, 2, 29), date(2022, 2, 28), 1),
        (date(2020, 2, 29), date(2022, 3, 1), 2),
        (date(2020, 5, 10), date(2022, 5, 9), 1),
        (date(2020, 5, 10), date(2022, 5, 10), 2),
        (date(2020, 5, 10), date(2020, 5, 10), 0),
    ],
)
def test_age_is_counted_in_whole_years(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


# --- 10 dose --------------------------------------------------------------------


def weighing(kg: str) -> ClaimContext:
    return a_context(a_year(weight_kg=Decimal(kg)))


def test_a_daily_dose_at_the_maximum_passes() -> None:
    # 25 kg x 0.24 mg/kg/day = 6 mg/day; 18 mL x 10 mg/mL / 30 days = 6 mg/day.
    assert rules.dose(facts(a_claim(drug(quantity="18.000", days=30)), weighing("25.0"))) is None


def test_a_daily_dose_above_the_maximum_is_rejected_with_88() -> None:
    result = rules.dose(facts(a_claim(drug(quantity="18.001", days=30)), weighing("25.0")))
    assert result == RejectCode("dose", "88", "DUR Reject Error")


def test_a_dose_exactly_at_the_maximum_passes_where_floats_would_reject_it() -> None:
    # 3.744 mL x 10 / 30 days = 1.248 mg/day = 0.24 x 5.2 kg; in binary floating point the
    # daily dose comes out as 1.2480000000000002 and would be rejected.
    at_max = a_claim(drug(quantity="3.744", days=30))
    over = a_claim(drug(quantity="3.745", days=30))
    assert rules.dose(facts(at_max, weighing("5.2"))) is None
    assert code_of(rules.dose(facts(over, weighing("5.2")))) == "88"


def test_a_j2170_line_counts_its_quantity_in_milligrams() -> None:
    at_max = a_claim(drug(code="J2170", quantity="180", days=30))
    over = a_claim(drug(code="J2170", quantity="181", days=30))
    assert rules.dose(facts(at_max, weighing("25"))) is None
    assert code_of(rules.dose(facts(over, weighing("25")))) == "88"


def test_the_dose_is_not_checked_without_a_recorded_weight() -> None:
    assert rules.dose(facts(a_claim(drug(quantity="999.000")))) is None


def test_lines_that_are_not_covered_drugs_or_lack_a_quantity_are_not_dosed() -> None:
    claim = a_claim(
        drug(code="00002771501", quantity="999.000"),
        service(),
        Line("drug", "15054104005", 100, None, 30),
        Line("drug", "15054104005", 100, Decimal("999"), None),
    )
    assert rules.dose(facts(claim, weighing("25"))) is None


def test_any_overdosed_line_fails_the_claim() -> None:
    claim = a_claim(drug(quantity="1.000"), drug(quantity="100.000"))
    assert code_of(rules.dose(facts(claim, weighing("25")))) == "88"


def test_the_dose_limits_come_from_the_terms() -> None:
    terms = replace(TERMS, max_dose_mg_per_kg_per_day=Decimal("0.12"))
    claim = a_claim(drug(quantity="18.000", days=30))
    assert code_of(rules.dose(facts(claim, weighing("25"), terms))) == "88"
