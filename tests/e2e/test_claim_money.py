"""What a claim pays: the API.md example, state rules, cash-pay, the annual cap, rejects."""

from __future__ import annotations

import copy

import pytest

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    benefit,
    claim_payload,
    enroll,
    new_pharmacy,
    submit,
)
from tests.examples import DECISION

pytestmark = pytest.mark.e2e


def codes(decision: dict) -> list[str]:
    return [r["code"] for r in decision["reject_codes"]]


def test_the_api_example_pays_the_drug_and_excludes_the_injection_for_a_massachusetts_resident(
    server: Server,
) -> None:
    member = enroll(server, state="MA")
    assert member["status"] == "active"
    assert member["benefit_period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert member["annual_max"] == "12000.00"

    decision = submit(server, claim_payload(member["cardholder_id"], service="40.00"))

    claim_id = decision["claim_id"]
    assert claim_id and decision["authorization_number"]
    expected = {
        **copy.deepcopy(DECISION),
        "claim_id": claim_id,
        "links": {"self": f"/v1/claims/{claim_id}"},
    }
    del expected["authorization_number"]  # a new one each claim, checked above
    assert {key: decision.get(key) for key in expected} == expected


def test_a_resident_outside_the_drug_only_states_gets_the_service_line_paid_too(
    server: Server,
) -> None:
    member = enroll(server, state="NY")

    decision = submit(server, claim_payload(member["cardholder_id"], service="40.00"))

    assert decision["status"] == "paid"
    assert decision["amounts"] == {
        "patient_responsibility": "1540.00",
        "eligible": "1540.00",
        "program_paid": "1540.00",
        "patient_pay": "0.00",
    }
    assert decision["reasons"] == []
    assert decision["benefit"]["used_after"] == "1540.00"
    assert decision["benefit"]["remaining"] == "10460.00"


def test_a_cash_pay_patient_is_capped_at_one_thousand_dollars_per_claim(server: Server) -> None:
    member = enroll(server, state="NY", coverage_type="uninsured")
    assert member["cash_pay"] is True

    decision = submit(server, claim_payload(member["cardholder_id"], drug="1500.00", cob=None))

    assert decision["status"] == "paid"
    assert decision["cash_pay"] is True
    assert decision["amounts"] == {
        "patient_responsibility": "1500.00",
        "eligible": "1500.00",
        "program_paid": "1000.00",
        "patient_pay": "500.00",
    }
    assert [(r["rule"], r["outcome"]) for r in decision["reasons"]] == [
        ("cash_pay_per_rx_max", "limited")
    ]
    assert decision["benefit"]["used_after"] == "1000.00"
    assert benefit(server, member["cardholder_id"])["used"] == "1000.00"


def test_commercial_claims_pay_up_to_the_annual_max_then_partially_then_reject_76(
    server: Server,
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]

    first = submit(server, claim_payload(cardholder, drug="5000.00"))
    second = submit(server, claim_payload(cardholder, drug="5000.00"))
    assert [first["status"], second["status"]] == ["paid", "paid"]
    assert second["benefit"]["used_before"] == "5000.00"
    expected = {
        "cardholder_id": cardholder,
        "benefit_period": {"start": "2026-01-01", "end": "2026-12-31"},
        "annual_max": "12000.00",
        "used": "10000.00",
        "remaining": "2000.00",
    }
    inquiry = benefit(server, cardholder)
    assert {key: inquiry.get(key) for key in expected} == expected

    partial = submit(server, claim_payload(cardholder, drug="5000.00"))
    assert partial["status"] == "paid"
    assert partial["amounts"]["program_paid"] == "2000.00"
    assert partial["amounts"]["patient_pay"] == "3000.00"
    assert ("annual_max", "limited") in [(r["rule"], r["outcome"]) for r in partial["reasons"]]
    assert partial["benefit"]["used_after"] == "12000.00"
    assert partial["benefit"]["remaining"] == "0.00"

    over = submit(server, claim_payload(cardholder, drug="100.00"))
    assert over["status"] == "rejected"
    assert codes(over) == ["76"]
    assert over["reject_codes"][0]["message"] == "Plan Limitations Exceeded"
    assert over["amounts"]["program_paid"] == "0.00"
    assert over["amounts"]["patient_pay"] == "100.00"

    after = benefit(server, cardholder, on="2026-03-01")
    assert (after["used"], after["remaining"]) == ("12000.00", "0.00")


def test_a_claim_for_an_ineligible_medicaid_enrollment_is_rejected_65(server: Server) -> None:
    member = enroll(server, state="NY", coverage_type="medicaid")
    assert member["status"] == "ineligible"
    assert "government_program" in [r["code"] for r in member["reasons"]]

    decision = submit(server, claim_payload(member["cardholder_id"]))

    assert decision["status"] == "rejected"
    assert codes(decision) == ["65"]
    assert decision["amounts"]["program_paid"] == "0.00"
    assert benefit(server, member["cardholder_id"])["used"] == "0.00"


def test_a_claim_for_an_unknown_cardholder_is_rejected_52(server: Server) -> None:
    decision = submit(server, claim_payload("IC_NO_SUCH_MEMBER"))

    assert decision["status"] == "rejected"
    assert codes(decision) == ["52"]
    assert decision["reject_codes"][0]["message"] == "Non-Matched Cardholder ID"
    assert decision["benefit"] is None
    assert decision["amounts"]["program_paid"] == "0.00"


def test_a_pharmacy_outside_the_network_is_rejected_40(server: Server) -> None:
    corner = new_pharmacy(server, chain="corner_drug")
    member = enroll(server, state="NY")

    decision = submit(
        server,
        claim_payload(member["cardholder_id"], npi=corner["npi"]),
        token=corner["api_key"],
    )

    assert decision["status"] == "rejected"
    assert codes(decision) == ["40"]
    assert [reason["rule"] for reason in decision["reasons"]] == ["network"]  # 40 alone
    assert (decision["benefit"], decision["cash_pay"]) == (None, False)  # nothing of the year
    assert benefit(server, member["cardholder_id"])["used"] == "0.00"
