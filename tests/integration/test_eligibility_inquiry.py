"""services/eligibility_inquiry (NCPDP E1) on the real ledger and Redis: rules 2 to 6 on
a date, the benefit as the JSON benefit endpoint counts it, one audit event, no claim."""

from __future__ import annotations

from datetime import date

import pytest
import redis
from sqlalchemy import func, select

from adjudicator.adapters.tables import claims as claims_table
from adjudicator.services import enrollments
from adjudicator.services.eligibility_inquiry import Inquiry, inquire
from adjudicator.services.runtime import Runtime
from tests.integration.builders import claim_payload, enroll, events, pay, pharmacy, valid_npi

pytestmark = pytest.mark.integration

ACTOR = "switch:tests"
YEAR_2024 = (date(2024, 1, 1), date(2024, 12, 31))


@pytest.fixture
def member(runtime: Runtime) -> dict:
    """An active, commercially insured member enrolled for 2024, born 2015-04-02."""
    return enroll(runtime, effective_date="2024-01-01")


@pytest.fixture
def npi(runtime: Runtime) -> str:
    return pharmacy(runtime)


def ask(
    rt: Runtime,
    cardholder_id: str,
    npi: str,
    *,
    on: date = date(2024, 3, 1),
    born: date | None = date(2015, 4, 2),
) -> Inquiry:
    return inquire(
        rt,
        cardholder_id=cardholder_id,
        date_of_birth=born,
        date_of_service=on,
        pharmacy_npi=npi,
        actor=ACTOR,
    )


def test_an_enrolled_patient_is_eligible_with_the_whole_year_remaining(runtime, member, npi):
    answer = ask(runtime, member["cardholder_id"], npi)

    assert answer == Inquiry((), YEAR_2024, 1_200_000)
    assert answer.eligible


def test_remaining_is_what_the_benefit_endpoint_answers(runtime, member, npi):
    pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="1500.00"))

    answer = ask(runtime, member["cardholder_id"], npi)

    benefit = enrollments.benefit(runtime, member["cardholder_id"], date(2024, 3, 1))
    assert answer.remaining == benefit["remaining"] == 1_050_000


def test_an_unknown_cardholder_is_52_with_no_benefit(runtime, npi):
    answer = ask(runtime, "IC-NOBODY-0001", npi)

    assert answer == Inquiry((("52", "Non-Matched Cardholder ID"),), None, None)


def test_a_date_of_birth_that_differs_is_09_with_no_benefit(runtime, member, npi):
    answer = ask(runtime, member["cardholder_id"], npi, born=date(2015, 4, 3))

    assert answer == Inquiry((("09", "M/I Date Of Birth"),), None, None)


def test_a_pharmacy_outside_the_network_is_40_alone_with_no_benefit(runtime, member):
    outside = pharmacy(runtime, chain="Corner Drugstore")

    answer = ask(runtime, member["cardholder_id"], outside, born=date(2015, 4, 3))

    assert answer.reject_codes == (("40", "Pharmacy Not Contracted With Plan On Date Of Service"),)
    assert (answer.benefit_period, answer.remaining) == (None, None)


def test_a_pharmacy_nobody_registered_is_outside_the_network(runtime, member):
    # A random NPI: the session's ledger registers the demo one (1234567893) elsewhere.
    answer = ask(runtime, member["cardholder_id"], valid_npi())

    assert [code for code, _ in answer.reject_codes] == ["40"]


def test_an_ineligible_year_is_65_naming_why_and_still_shows_the_benefit(runtime, npi):
    medicaid = enroll(runtime, effective_date="2024-01-01", coverage={"type": "medicaid"})

    answer = ask(runtime, medicaid["cardholder_id"], npi)

    assert answer.reject_codes == (("65", "Patient Is Not Covered: government_program"),)
    assert (answer.benefit_period, answer.remaining) == (YEAR_2024, 1_200_000)


@pytest.mark.parametrize(("on", "code"), [(date(2023, 12, 31), "67"), (date(2025, 1, 1), "68")])
def test_a_date_outside_the_years_is_67_or_68_with_no_benefit(runtime, member, npi, on, code):
    answer = ask(runtime, member["cardholder_id"], npi, on=on)

    assert [c for c, _ in answer.reject_codes] == [code]
    assert (answer.benefit_period, answer.remaining) == (None, None)


def test_the_next_year_answers_its_own_period(runtime, member, npi):
    enroll(runtime, cardholder_id=member["cardholder_id"], effective_date="2025-01-01")

    answer = ask(runtime, member["cardholder_id"], npi, on=date(2025, 2, 1))

    assert answer == Inquiry((), (date(2025, 1, 1), date(2025, 12, 31)), 1_200_000)


def test_an_inquiry_stores_one_audit_event_and_no_claim(runtime, member, npi):
    with runtime.engine.connect() as conn:
        claims_before = conn.execute(select(func.count()).select_from(claims_table)).scalar()

    ask(runtime, member["cardholder_id"], npi, born=date(2015, 4, 3))

    (event,) = events(runtime, "member", member["cardholder_id"])
    assert (event.type, event.actor, event.cardholder_id) == (
        "eligibility_checked",
        ACTOR,
        member["cardholder_id"],
    )
    assert event.data == {
        "date_of_service": "2024-03-01",
        "pharmacy_npi": npi,
        "reject_codes": ["09"],
    }
    with runtime.engine.connect() as conn:
        claims_after = conn.execute(select(func.count()).select_from(claims_table)).scalar()
    assert claims_after == claims_before


def test_with_redis_away_the_ledger_counts_what_was_used(runtime, member, npi, monkeypatch):
    pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="1500.00"))

    def away(*_args: object) -> int:
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(runtime.accumulator, "used", away)

    assert ask(runtime, member["cardholder_id"], npi).remaining == 1_050_000
