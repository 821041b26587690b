"""Properties of the money arithmetic over random claims and usage (Hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adjudicator.domain.adjudicate import decide, evaluate, grant
from adjudicator.domain.model import Claim, ClaimContext, Cob, Decision, Line
from adjudicator.domain.money import MAX_CENTS, format_money, parse_money
from tests.unit.test_adjudicate import TERMS, a_claim, a_context, a_year

pytestmark = pytest.mark.unit

ANNUAL_MAX = TERMS.annual_max
CASH_CAP = TERMS.cash_pay_per_rx_max

amounts = st.integers(min_value=0, max_value=MAX_CENTS // 10)
drug_lines = st.builds(
    Line,
    kind=st.just("drug"),
    code=st.sampled_from(["15054104005", "J2170", "00002771501"]),
    patient_responsibility=amounts,
    quantity=st.just(Decimal("1.000")),
    days_supply=st.just(30),
)
service_lines = st.builds(
    Line,
    kind=st.just("service"),
    code=st.sampled_from(["96372", "99213"]),
    patient_responsibility=amounts,
)
cobs = st.sampled_from(
    [
        Cob(),
        Cob(8, "003858", "A4"),
        Cob(3, "003858", "A4", ("70",)),
        Cob(3, "003858", "A4", ("75",)),
        Cob(8, "610014", "MEDDPRIME"),
    ]
)


@st.composite
def claims(draw: st.DrawFn) -> tuple[Claim, ClaimContext]:
    lines = draw(st.lists(st.one_of(drug_lines, service_lines), min_size=1, max_size=10))
    year = a_year(state=draw(st.sampled_from(["NY", "MA"])), cash_pay=draw(st.booleans()))
    return a_claim(*lines, cob=draw(cobs)), a_context(year)


used_amounts = st.integers(min_value=0, max_value=ANNUAL_MAX + CASH_CAP)


def adjudicated(claim: Claim, context: ClaimContext, used_before: int) -> tuple[Decision, int]:
    evaluation = evaluate(claim, context, TERMS)
    granted = grant(evaluation.requested, used_before, ANNUAL_MAX)
    return decide(evaluation, used_before, granted), evaluation.eligible


@given(claims(), used_amounts)
def test_the_program_never_pays_more_than_is_eligible(
    claim: tuple[Claim, ClaimContext], used_before: int
) -> None:
    decision, eligible = adjudicated(*claim, used_before)
    assert 0 <= decision.amounts.program_paid <= eligible


@given(claims(), used_amounts)
def test_the_program_never_pays_more_than_is_left_of_the_annual_maximum(
    claim: tuple[Claim, ClaimContext], used_before: int
) -> None:
    decision, _ = adjudicated(*claim, used_before)
    assert decision.amounts.program_paid <= max(ANNUAL_MAX - used_before, 0)


@given(claims(), used_amounts)
def test_a_cash_pay_claim_never_gets_more_than_1000(
    claim: tuple[Claim, ClaimContext], used_before: int
) -> None:
    decision, _ = adjudicated(*claim, used_before)
    if decision.cash_pay:
        assert decision.amounts.program_paid <= CASH_CAP


@given(claims(), used_amounts)
def test_program_and_patient_together_pay_the_patients_responsibility(
    claim: tuple[Claim, ClaimContext], used_before: int
) -> None:
    decision, _ = adjudicated(*claim, used_before)
    amounts = decision.amounts
    assert amounts.patient_pay >= 0
    assert amounts.program_paid + amounts.patient_pay == amounts.patient_responsibility


@given(claims(), used_amounts)
def test_usage_grows_by_exactly_what_the_program_paid(
    claim: tuple[Claim, ClaimContext], used_before: int
) -> None:
    decision, _ = adjudicated(*claim, used_before)
    assert decision.benefit is not None
    assert decision.benefit.used_after - used_before == decision.amounts.program_paid
    if decision.status == "rejected":
        assert decision.amounts.program_paid == 0


@given(st.integers(min_value=0, max_value=MAX_CENTS))
def test_formatted_money_parses_back_to_the_same_cents(cents: int) -> None:
    assert parse_money(format_money(cents)) == cents


@given(st.integers(min_value=-MAX_CENTS, max_value=MAX_CENTS))
def test_a_signed_delta_parses_back_to_the_same_cents(cents: int) -> None:
    assert parse_money(format_money(cents), signed=True) == cents


@given(
    st.integers(min_value=0, max_value=MAX_CENTS),
    st.integers(min_value=0, max_value=2 * ANNUAL_MAX),
    st.integers(min_value=0, max_value=MAX_CENTS),
)
def test_grant_never_exceeds_the_request_or_what_is_left(
    requested: int, used: int, annual_max: int
) -> None:
    granted = grant(requested, used, annual_max)
    assert 0 <= granted <= requested
    assert used + granted <= max(annual_max, used)
