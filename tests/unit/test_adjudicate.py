"""Evaluating and deciding whole claims: order of rules, amounts, caps and the trace.

The builders at the top are shared with the other domain test modules.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from adjudicator.domain.adjudicate import decide, dollars, evaluate, grant, within_ledger
from adjudicator.domain.model import (
    Benefit,
    Claim,
    ClaimContext,
    Cob,
    Decision,
    EnrollmentYear,
    Evaluation,
    Line,
    Reason,
    RejectCode,
    TraceEntry,
)
from adjudicator.domain.money import parse_money
from adjudicator.domain.terms import Terms, bundled_terms

pytestmark = pytest.mark.unit

TERMS = bundled_terms()[0]
BORN = date(2015, 4, 2)
SERVED = date(2026, 3, 1)
FSA = "This benefit may not be submitted to an FSA, HSA or HRA for reimbursement."
MA_SERVICES = "Injection services are not covered for residents of MA, MN, MI and RI."


# --- builders -------------------------------------------------------------------


def a_year(**changes: Any) -> EnrollmentYear:
    """An active, commercially insured 2026 year of a 10-year-old in New York."""
    year = EnrollmentYear(
        enrollment_id="enr-1",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        status="active",
        reasons=(),
        cash_pay=False,
        date_of_birth=BORN,
        state="NY",
    )
    return replace(year, **changes)


def a_cash_pay_year(**changes: Any) -> EnrollmentYear:
    return a_year(cash_pay=True, **changes)


def an_ineligible_year(*codes: str) -> EnrollmentYear:
    return a_year(status="ineligible", reasons=tuple(Reason(c, f"{c} applies") for c in codes))


def drug(
    amount: str = "1500.00", code: str = "15054104005", quantity: str = "8.000", days: int = 30
) -> Line:
    return Line("drug", code, parse_money(amount), Decimal(quantity), days)


def service(amount: str = "40.00", code: str = "96372") -> Line:
    return Line("service", code, parse_money(amount))


SECONDARY = Cob(other_coverage_code=8, other_payer_bin="003858", other_payer_pcn="A4")


def a_claim(*lines: Line, **changes: Any) -> Claim:
    """A commercial-secondary (code 8) claim for one covered drug line, dated 2026-03-01."""
    claim = Claim(
        claim_id="clm-1",
        cardholder_id="IC0001",
        service_provider_id="1234567893",
        rx_number="RX1001",
        fill_number=0,
        date_of_service=SERVED,
        lines=lines or (drug(),),
        cob=SECONDARY,
    )
    return replace(claim, **changes)


def a_cash_claim(*lines: Line, **changes: Any) -> Claim:
    """A claim with no other coverage (code 1), as cash-pay patients send them."""
    return a_claim(*lines, cob=Cob(), **changes)


def a_context(*years: EnrollmentYear, **changes: Any) -> ClaimContext:
    context = ClaimContext(member_exists=True, years=years or (a_year(),), pharmacy_chain="accredo")
    return replace(context, **changes)


def no_member() -> ClaimContext:
    return ClaimContext(member_exists=False, years=(), pharmacy_chain="accredo")


def adjudicate(
    claim: Claim, context: ClaimContext, used_before: int = 0, terms: Terms = TERMS
) -> Decision:
    """Evaluate, reserve as the Redis script would, decide."""
    evaluation = evaluate(claim, context, terms)
    return decide(
        evaluation, used_before, grant(evaluation.requested, used_before, terms.annual_max)
    )


def codes(decision: Decision | Evaluation) -> list[str]:
    rejects = decision.reject_codes if isinstance(decision, Decision) else decision.rejects
    return [r.code for r in rejects]


def cents(text: str) -> int:
    return parse_money(text)


# --- the API.md example ---------------------------------------------------------


def test_the_massachusetts_example_pays_the_drug_and_excludes_the_injection_service() -> None:
    decision = adjudicate(a_claim(drug("1500.00"), service("40.00")), a_context(a_year(state="MA")))
    assert decision.status == "paid"
    assert decision.reject_codes == ()
    assert (decision.amounts.patient_responsibility, decision.amounts.eligible) == (154000, 150000)
    assert (decision.amounts.program_paid, decision.amounts.patient_pay) == (150000, 4000)
    assert decision.benefit == Benefit(date(2026, 1, 1), date(2026, 12, 31), 1200000, 0, 150000)
    assert decision.benefit.remaining == cents("10500.00")
    assert decision.cash_pay is False
    assert decision.trace == (TraceEntry("state_drug_only", "excluded", MA_SERVICES),)
    assert decision.messages == (FSA,)
    assert decision.terms_version == "2020-01"
    assert decision.reviewable_rules == ()


@pytest.mark.parametrize("state", ["MA", "MN", "MI", "RI", "ma", " MA "])
def test_residents_of_drug_only_states_get_no_help_with_injection_services(state: str) -> None:
    evaluation = evaluate(a_claim(drug(), service()), a_context(a_year(state=state)), TERMS)
    assert evaluation.eligible == cents("1500.00")


def test_the_drug_only_message_is_built_from_the_terms_list() -> None:
    two = replace(TERMS, drug_only_states=("MA", "RI"))
    one = replace(TERMS, drug_only_states=("MA",))
    context = a_context(a_year(state="MA"))
    assert evaluate(a_claim(service()), context, two).trace[-1].message.endswith("MA and RI.")
    assert evaluate(a_claim(service()), context, one).trace[-1].message.endswith("of MA.")


def test_injection_services_count_for_residents_of_other_states() -> None:
    evaluation = evaluate(a_claim(drug(), service()), a_context(a_year(state="NY")), TERMS)
    assert evaluation.eligible == cents("1540.00")
    assert evaluation.trace == ()


def test_an_uncovered_service_code_is_excluded_with_service_not_covered() -> None:
    claim = a_claim(drug(), service("25.00", "99213"), service("10.00", "99213"))
    evaluation = evaluate(claim, a_context(), TERMS)
    assert evaluation.eligible == cents("1500.00")
    assert evaluation.patient_responsibility == cents("1535.00")
    assert evaluation.trace == (
        TraceEntry("service_not_covered", "excluded", "Not a covered service, excluded: 99213."),
    )


def test_an_uncovered_drug_line_is_excluded_but_the_covered_one_pays() -> None:
    claim = a_claim(drug("1500.00"), drug("300.00", code="00002771501"))
    decision = adjudicate(claim, a_context())
    assert decision.status == "paid"
    assert decision.amounts.program_paid == cents("1500.00")
    assert decision.amounts.patient_pay == cents("300.00")
    assert decision.trace == (
        TraceEntry("product", "excluded", "Not a covered product, excluded: 00002771501."),
    )


def test_a_j2170_medical_benefit_line_counts_in_full() -> None:
    claim = a_claim(drug("800.00", code="J2170", quantity="100", days=30))
    assert adjudicate(claim, a_context()).amounts.program_paid == cents("800.00")


# --- cash-pay and the caps ------------------------------------------------------


def test_a_cash_pay_claim_is_capped_at_1000_per_prescription() -> None:
    decision = adjudicate(a_cash_claim(drug("1500.00")), a_context(a_cash_pay_year()))
    assert decision.cash_pay is True
    assert decision.amounts.program_paid == cents("1000.00")
    assert decision.amounts.patient_pay == cents("500.00")
    assert decision.benefit is not None and decision.benefit.used_after == cents("1000.00")
    assert decision.trace == (
        TraceEntry(
            "cash_pay_per_rx_max",
            "limited",
            "Cash-pay patients receive at most $1,000.00 per prescription.",
        ),
    )


def test_a_cash_pay_claim_under_the_cap_pays_in_full_without_a_limit() -> None:
    decision = adjudicate(a_cash_claim(drug("600.00")), a_context(a_cash_pay_year()))
    assert decision.amounts.program_paid == cents("600.00")
    assert decision.trace == ()


def test_each_fill_is_its_own_prescription_under_the_cash_cap() -> None:
    first = adjudicate(a_cash_claim(drug("1500.00")), a_context(a_cash_pay_year()))
    assert first.benefit is not None
    refill = a_cash_claim(drug("1500.00"), fill_number=1)
    second = adjudicate(refill, a_context(a_cash_pay_year()), used_before=first.benefit.used_after)
    assert second.amounts.program_paid == cents("1000.00")
    assert second.benefit is not None and second.benefit.used_after == cents("2000.00")


def test_the_cash_cap_comes_from_the_terms_in_force() -> None:
    terms = replace(TERMS, cash_pay_per_rx_max=cents("750.00"))
    decision = adjudicate(a_cash_claim(), a_context(a_cash_pay_year()), terms=terms)
    assert decision.amounts.program_paid == cents("750.00")
    assert "$750.00 per prescription" in decision.trace[0].message


def test_a_primary_rejecting_the_product_as_not_covered_makes_the_claim_cash_pay() -> None:
    cob = Cob(other_coverage_code=3, other_payer_bin="003858", other_payer_reject_codes=("70",))
    evaluation = evaluate(a_claim(cob=cob), a_context(), TERMS)
    assert evaluation.rejects == ()
    assert evaluation.cash_pay is True
    assert evaluation.per_rx_max == cents("1000.00")


def test_a_commercial_secondary_claim_is_not_cash_pay_even_for_a_cash_pay_enrollment() -> None:
    evaluation = evaluate(a_claim(), a_context(a_cash_pay_year()), TERMS)
    assert evaluation.cash_pay is False
    assert evaluation.per_rx_max is None


def test_a_commercial_claim_may_use_all_that_is_left_of_the_annual_maximum() -> None:
    decision = adjudicate(a_claim(drug("9000.00")), a_context(), used_before=cents("2000.00"))
    assert decision.amounts.program_paid == cents("9000.00")
    assert decision.trace == ()


def test_the_annual_maximum_pays_only_what_is_left_of_it() -> None:
    decision = adjudicate(a_claim(drug("1500.00")), a_context(), used_before=cents("11500.00"))
    assert decision.status == "paid"
    assert decision.amounts.program_paid == cents("500.00")
    assert decision.amounts.patient_pay == cents("1000.00")
    assert decision.benefit is not None
    assert (decision.benefit.used_after, decision.benefit.remaining) == (cents("12000.00"), 0)
    assert decision.trace == (
        TraceEntry(
            "annual_max",
            "limited",
            "Limited to the $500.00 left of the $12,000.00 annual maximum "
            "for this enrollment year.",
        ),
    )


def test_a_cash_pay_claim_near_the_annual_maximum_names_only_the_binding_limit() -> None:
    context = a_context(a_cash_pay_year())
    decision = adjudicate(a_cash_claim(drug("1500.00")), context, used_before=cents("11800.00"))
    assert decision.amounts.program_paid == cents("200.00")
    assert [entry.rule for entry in decision.trace] == ["annual_max"]


def test_a_claim_after_the_annual_maximum_is_used_up_is_rejected_with_76() -> None:
    decision = adjudicate(a_claim(), a_context(), used_before=cents("12000.00"))
    assert decision.status == "rejected"
    assert decision.reject_codes == (RejectCode("annual_max", "76", "Plan Limitations Exceeded"),)
    assert decision.trace == (TraceEntry("annual_max", "rejected", "Plan Limitations Exceeded"),)
    assert decision.amounts.program_paid == 0
    assert decision.amounts.patient_pay == cents("1500.00")
    assert decision.benefit is not None
    assert decision.benefit.used_after == decision.benefit.used_before == cents("12000.00")
    assert decision.messages == ()


def test_usage_above_a_lowered_annual_maximum_is_rejected_with_76() -> None:
    terms = replace(TERMS, annual_max=cents("10000.00"))
    decision = adjudicate(a_claim(), a_context(), used_before=cents("11000.00"), terms=terms)
    assert codes(decision) == ["76"]


def test_the_decision_records_the_terms_version_and_its_annual_maximum() -> None:
    terms = replace(TERMS, version="2027-01", annual_max=cents("15000.00"))
    decision = adjudicate(a_claim(), a_context(), terms=terms)
    assert decision.terms_version == "2027-01"
    assert decision.benefit is not None and decision.benefit.annual_max == cents("15000.00")


@pytest.mark.parametrize(
    ("requested", "used", "expected"),
    [
        ("1500.00", "0.00", "1500.00"),
        ("1500.00", "11000.00", "1000.00"),
        ("1.00", "12000.00", "0.00"),
        ("1.00", "13000.00", "0.00"),
    ],
)
def test_grant_is_the_request_clamped_to_what_is_left(
    requested: str, used: str, expected: str
) -> None:
    assert grant(cents(requested), cents(used), cents("12000.00")) == cents(expected)


@pytest.mark.parametrize("granted", [-1, 150001])
def test_deciding_with_more_than_the_terms_allow_is_refused(granted: int) -> None:
    evaluation = evaluate(a_claim(), a_context(), TERMS)
    with pytest.raises(ValueError, match="more than the terms allow"):
        decide(evaluation, 0, granted)


def test_a_smaller_reservation_than_requested_is_traced_as_the_annual_limit() -> None:
    decision = decide(evaluate(a_claim(), a_context(), TERMS), 0, cents("100.00"))
    assert decision.amounts.program_paid == cents("100.00")
    assert decision.trace[-1].rule == "annual_max"


@pytest.mark.parametrize(
    ("amount", "text"), [(0, "$0.00"), (5, "$0.05"), (100000, "$1,000.00"), (1200000, "$12,000.00")]
)
def test_dollars_are_written_for_people(amount: int, text: str) -> None:
    assert dollars(amount) == text


# --- rejects: order, limits and skipping ----------------------------------------


def test_a_rejected_claim_pays_nothing_and_leaves_the_benefit_unchanged() -> None:
    claim = a_claim(drug(quantity="100.000"))
    decision = adjudicate(claim, a_context(a_year(weight_kg=Decimal("10"))), cents("100.00"))
    assert decision.status == "rejected"
    assert decision.reject_codes == (RejectCode("dose", "88", "DUR Reject Error"),)
    assert decision.amounts.program_paid == 0
    assert decision.amounts.patient_pay == decision.amounts.patient_responsibility
    assert decision.benefit is not None
    assert decision.benefit.used_after == decision.benefit.used_before == cents("100.00")
    assert decision.messages == ()


def test_every_reject_appears_in_the_trace() -> None:
    decision = adjudicate(a_claim(), a_context(pharmacy_chain="corner_drugs"))
    assert decision.trace == (
        TraceEntry("network", "rejected", "Pharmacy Not Contracted With Plan On Date Of Service"),
    )


def test_an_unknown_cardholder_skips_every_rule_that_needs_the_member() -> None:
    decision = adjudicate(a_cash_claim(date_of_birth=date(2000, 1, 1)), no_member())
    assert codes(decision) == ["52"]
    assert decision.benefit is None
    assert decision.amounts.eligible == 0
    assert decision.cash_pay is False


def test_an_unknown_cardholder_still_reports_rules_that_need_no_member() -> None:
    claim = a_claim(drug(code="00002771501"), cob=Cob(other_coverage_code=0))
    assert codes(adjudicate(claim, no_member())) == ["52", "70", "13"]


def test_a_date_of_service_outside_every_year_skips_the_rules_that_need_the_year() -> None:
    young = a_year(date_of_birth=date(2025, 1, 1), status="ineligible", weight_kg=Decimal("1"))
    claim = a_cash_claim(date_of_service=date(2027, 2, 1))
    decision = adjudicate(claim, a_context(young))
    assert codes(decision) == ["68"]
    assert decision.benefit is None


def test_a_claim_in_the_second_year_is_judged_by_that_year() -> None:
    second = a_year(
        enrollment_id="enr-2", period_start=date(2027, 1, 1), period_end=date(2027, 12, 31)
    )
    ineligible_first = a_year(status="ineligible", reasons=(Reason("other_assistance", "x"),))
    claim = a_claim(date_of_service=date(2027, 3, 1))
    decision = adjudicate(claim, a_context(ineligible_first, second))
    assert decision.status == "paid"
    assert decision.benefit is not None and decision.benefit.period_start == date(2027, 1, 1)


def test_failing_rules_are_reported_in_rule_order_at_most_five() -> None:
    heavy_toddler = a_year(
        status="ineligible",
        reasons=(Reason("government_program", "x"),),
        date_of_birth=date(2025, 1, 1),
        weight_kg=Decimal("10"),
    )
    claim = a_cash_claim(drug(quantity="100.000"), date_of_birth=date(2024, 1, 1))
    context = a_context(heavy_toddler, other_paid_claim_with_same_key=True)
    evaluation = evaluate(claim, context, TERMS)
    assert codes(evaluation) == ["83", "09", "65", "41", "60"]
    rejected = [entry.rule for entry in evaluation.trace if entry.outcome == "rejected"]
    assert rejected == [
        "duplicate",
        "date_of_birth",
        "enrollment_eligible",
        "other_coverage",
        "patient_age",
        "dose",
    ]
    # Past the five codes, the reviewable rules still open a review (decisions #10).
    assert evaluation.reviewable_rules == ("patient_age", "dose")


def test_a_code_is_reported_once_even_when_two_rules_give_it() -> None:
    medicare = Cob(other_coverage_code=8, other_payer_bin="610014", other_payer_pcn="MEDDPRIME")
    evaluation = evaluate(
        a_claim(cob=medicare), a_context(an_ineligible_year("government_program")), TERMS
    )
    assert evaluation.rejects == (
        RejectCode("enrollment_eligible", "65", "Patient Is Not Covered: government_program"),
    )
    rejected = [entry.rule for entry in evaluation.trace if entry.outcome == "rejected"]
    assert rejected == ["enrollment_eligible", "other_coverage"]


# --- what a pharmacy may not learn (PROGRAM_TERMS.md: the two exceptions) ---------------


def test_a_pharmacy_outside_the_network_is_answered_40_alone() -> None:
    toddler_in_ma = a_cash_pay_year(
        state="MA", status="ineligible", reasons=(Reason("government_program", "x"),)
    )
    claim = a_cash_claim(drug(), service(), date_of_birth=date(2015, 4, 3))
    context = a_context(replace(toddler_in_ma, date_of_birth=date(2025, 1, 1)))

    decision = adjudicate(claim, replace(context, pharmacy_chain="corner_drugs"))

    assert decision.reject_codes == (
        RejectCode("network", "40", "Pharmacy Not Contracted With Plan On Date Of Service"),
    )
    assert [(t.rule, t.outcome) for t in decision.trace] == [("network", "rejected")]
    assert (decision.benefit, decision.cash_pay, decision.amounts.eligible) == (None, False, 0)
    assert decision.reviewable_rules == ()  # nothing a review could approve into a payment


def test_40_alone_also_hides_whether_the_cardholder_exists() -> None:
    claim = a_claim(drug(code="00002771501"), cob=Cob(other_coverage_code=0))
    assert codes(adjudicate(claim, replace(no_member(), pharmacy_chain="corner_drugs"))) == ["40"]


def test_after_a_09_the_claim_shows_no_benefit_and_is_not_cash_pay() -> None:
    claim = a_cash_claim(drug(), service(), date_of_birth=date(2015, 4, 3))

    decision = adjudicate(claim, a_context(a_cash_pay_year(state="MA")), cents("100.00"))

    assert codes(decision) == ["09"]
    assert (decision.benefit, decision.cash_pay) == (None, False)
    # Amounts as if no year matched: the MA exclusion would tell where the patient lives.
    assert decision.amounts.eligible == 0
    assert decision.trace == (TraceEntry("date_of_birth", "rejected", "M/I Date Of Birth"),)


def test_after_a_09_only_the_claims_own_lines_are_excluded() -> None:
    claim = a_claim(drug(), service(code="99999"), date_of_birth=date(2015, 4, 3))
    decision = adjudicate(claim, a_context())
    assert [(t.rule, t.outcome) for t in decision.trace] == [
        ("date_of_birth", "rejected"),
        ("service_not_covered", "excluded"),
    ]


def test_after_a_09_the_65_names_no_reason() -> None:
    claim = a_claim(date_of_birth=date(2015, 4, 3))
    decision = adjudicate(claim, a_context(an_ineligible_year("government_program")))
    assert decision.reject_codes == (
        RejectCode("date_of_birth", "09", "M/I Date Of Birth"),
        RejectCode("enrollment_eligible", "65", "Patient Is Not Covered"),
    )
    assert "government_program" not in " ".join(t.message for t in decision.trace)


def test_with_the_right_date_of_birth_the_65_names_its_reason() -> None:
    decision = adjudicate(a_claim(), a_context(an_ineligible_year("government_program")))
    assert decision.reject_codes == (
        RejectCode("enrollment_eligible", "65", "Patient Is Not Covered: government_program"),
    )
    assert decision.benefit is not None


def test_a_claim_with_no_covered_drug_is_rejected_with_70_and_its_lines_excluded() -> None:
    decision = adjudicate(a_claim(service()), a_context())
    assert codes(decision) == ["70"]
    assert [entry.rule for entry in decision.trace] == ["product"]
    assert decision.amounts.eligible == cents("40.00")
    assert decision.amounts.program_paid == 0


# --- review ---------------------------------------------------------------------


def a_one_year_old() -> EnrollmentYear:
    return a_year(date_of_birth=date(2025, 1, 1), weight_kg=Decimal("10"))


def test_a_claim_failing_reviewable_rules_names_them_for_review() -> None:
    claim = a_claim(drug(quantity="100.000"))
    decision = adjudicate(claim, a_context(a_one_year_old()))
    assert codes(decision) == ["60", "88"]
    assert decision.reviewable_rules == ("patient_age", "dose")


def test_an_approved_review_overrides_the_reviewable_rules_and_pays() -> None:
    claim = a_claim(drug(quantity="100.000"))
    context = a_context(a_one_year_old(), overrides=frozenset({"patient_age", "dose"}))
    decision = adjudicate(claim, context)
    assert decision.status == "paid"
    assert decision.amounts.program_paid == cents("1500.00")


def test_an_override_of_one_reviewable_rule_leaves_the_other_in_force() -> None:
    claim = a_claim(drug(quantity="100.000"))
    context = a_context(a_one_year_old(), overrides=frozenset({"patient_age"}))
    assert codes(adjudicate(claim, context)) == ["88"]


def test_an_override_of_a_rule_that_is_not_reviewable_is_ignored() -> None:
    context = a_context(pharmacy_chain="corner_drugs", overrides=frozenset({"network"}))
    assert codes(adjudicate(a_claim(), context)) == ["40"]


def test_a_claim_rejected_by_a_rule_that_is_not_reviewable_has_nothing_to_review() -> None:
    decision = adjudicate(a_claim(), a_context(pharmacy_chain="corner_drugs"))
    assert decision.reviewable_rules == ()


# --- the ledger guard ---------------------------------------------------------------


def test_a_payment_within_what_the_ledger_leaves_stands_as_reserved() -> None:
    evaluation = evaluate(a_claim(drug("1500.00")), a_context(), TERMS)
    decision = decide(evaluation, used_before=cents("2000.00"), granted=cents("1500.00"))
    assert within_ledger(evaluation, decision, ledger_used=cents("10500.00")) is decision


def test_a_payment_past_what_the_ledger_leaves_is_cut_to_what_is_left() -> None:
    evaluation = evaluate(a_claim(drug("1500.00")), a_context(), TERMS)
    reserved = decide(evaluation, used_before=0, granted=cents("1500.00"))  # Redis forgot

    settled = within_ledger(evaluation, reserved, ledger_used=cents("11000.00"))

    assert (settled.status, settled.amounts.program_paid) == ("paid", cents("1000.00"))
    assert settled.benefit is not None
    assert (settled.benefit.used_before, settled.benefit.remaining) == (cents("11000.00"), 0)
    assert [entry.rule for entry in settled.trace] == ["annual_max"]


def test_a_payment_the_ledger_leaves_nothing_for_is_rejected_76() -> None:
    evaluation = evaluate(a_claim(drug("1500.00")), a_context(), TERMS)
    reserved = decide(evaluation, used_before=0, granted=cents("1500.00"))

    settled = within_ledger(evaluation, reserved, ledger_used=cents("12000.00"))

    assert codes(settled) == ["76"] and settled.amounts.program_paid == 0


def test_the_ledger_guard_never_raises_a_payment_or_touches_a_rejection() -> None:
    evaluation = evaluate(a_claim(drug("1500.00")), a_context(), TERMS)
    partial = decide(evaluation, used_before=cents("11800.00"), granted=cents("200.00"))
    rejected = decide(evaluation, used_before=cents("12000.00"), granted=0)
    assert within_ledger(evaluation, partial, ledger_used=0) is partial
    assert within_ledger(evaluation, rejected, ledger_used=cents("13000.00")) is rejected
