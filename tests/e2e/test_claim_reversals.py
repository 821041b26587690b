"""Reversal (NCPDP B2): the money goes back to the claim's own year, exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    DEMO_PHARMACY_NPI,
    benefit,
    claim_payload,
    enroll,
    submit,
)

pytestmark = pytest.mark.e2e


def reverse(server: Server, claim_id: str, token: str = DEMO_PHARMACY_KEY) -> Any:
    return server.call("POST", f"/v1/claims/{claim_id}/reversal", token)


def test_reversing_a_paid_claim_releases_its_money_and_a_second_reversal_releases_nothing(
    server: Server,
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    kept = submit(server, claim_payload(cardholder, drug="1000.00"))
    paid = submit(server, claim_payload(cardholder, drug="1500.00"))
    assert [kept["status"], paid["status"]] == ["paid", "paid"]
    assert benefit(server, cardholder)["used"] == "2500.00"

    first = reverse(server, paid["claim_id"])
    assert first.status_code == 200, first.text
    reversed_ = first.json()
    assert reversed_["claim_id"] == paid["claim_id"]
    assert reversed_["status"] == "reversed"
    assert reversed_["benefit"]["used_before"] == "2500.00"
    assert reversed_["benefit"]["used_after"] == "1000.00"
    assert reversed_["benefit"]["remaining"] == "11000.00"
    assert benefit(server, cardholder)["used"] == "1000.00"

    second = reverse(server, paid["claim_id"])
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "reversed"
    assert benefit(server, cardholder)["used"] == "1000.00"

    shown = server.call("GET", f"/v1/claims/{paid['claim_id']}", DEMO_PHARMACY_KEY).json()
    assert shown["status"] == "reversed"
    assert [e["type"] for e in shown["events"]].count("reversed") == 1


def test_reversing_a_rejected_claim_is_a_conflict(server: Server) -> None:
    member = enroll(server, state="NY")
    rejected = submit(
        server, claim_payload(member["cardholder_id"], cob={"other_coverage_code": 0})
    )
    assert rejected["status"] == "rejected"

    response = reverse(server, rejected["claim_id"])

    assert response.status_code == 409
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 409


def test_a_reversal_by_ncpdp_key_reverses_the_paid_claim(server: Server) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, drug="700.00", fill_number=2)
    paid = submit(server, payload)
    assert paid["status"] == "paid"

    key = {
        "service_provider_id": DEMO_PHARMACY_NPI,
        "rx_number": payload["rx_number"],
        "fill_number": 2,
        "date_of_service": payload["date_of_service"],
    }
    response = server.call("POST", "/v1/reversals", DEMO_PHARMACY_KEY, json=key)

    assert response.status_code == 200, response.text
    assert response.json()["claim_id"] == paid["claim_id"]
    assert response.json()["status"] == "reversed"
    assert benefit(server, cardholder)["used"] == "0.00"


def test_a_reversal_by_an_unknown_ncpdp_key_is_not_found(server: Server) -> None:
    key = {
        "service_provider_id": DEMO_PHARMACY_NPI,
        "rx_number": "RX-NEVER-BILLED",
        "fill_number": 0,
        "date_of_service": "2026-03-01",
    }
    response = server.call("POST", "/v1/reversals", DEMO_PHARMACY_KEY, json=key)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_another_pharmacy_cannot_reverse_the_claim(
    server: Server, second_pharmacy: dict[str, Any]
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    paid = submit(server, claim_payload(cardholder, drug="900.00"))

    response = reverse(server, paid["claim_id"], token=second_pharmacy["api_key"])

    assert response.status_code == 404
    assert benefit(server, cardholder)["used"] == "900.00"
    shown = server.call("GET", f"/v1/claims/{paid['claim_id']}", DEMO_PHARMACY_KEY).json()
    assert shown["status"] == "paid"


def test_a_year_one_claim_reversed_during_year_two_gives_the_money_back_to_year_one_only(
    server: Server,
) -> None:
    year_one = enroll(server, state="NY", effective_date="2025-01-01")
    cardholder = year_one["cardholder_id"]
    old = submit(server, claim_payload(cardholder, drug="3000.00", date_of_service="2025-06-01"))
    assert old["status"] == "paid"
    assert old["benefit"]["period_start"] == "2025-01-01"

    year_two = enroll(server, state="NY", effective_date="2026-01-01", cardholder_id=cardholder)
    assert year_two["cardholder_id"] == cardholder
    new = submit(server, claim_payload(cardholder, drug="2000.00", date_of_service="2026-02-01"))
    assert new["status"] == "paid"
    assert new["benefit"]["used_before"] == "0.00"

    response = reverse(server, old["claim_id"])

    assert response.status_code == 200, response.text
    assert response.json()["benefit"]["period_start"] == "2025-01-01"
    assert response.json()["benefit"]["used_after"] == "0.00"
    assert benefit(server, cardholder, on="2025-06-01")["used"] == "0.00"
    assert benefit(server, cardholder, on="2026-06-01")["used"] == "2000.00"


def test_a_reversed_claim_can_be_billed_again_and_pays(server: Server) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, drug="1100.00")
    first = submit(server, payload)
    assert reverse(server, first["claim_id"]).status_code == 200
    assert benefit(server, cardholder)["used"] == "0.00"

    rebilled = submit(server, payload)

    assert rebilled["status"] == "paid"
    assert rebilled["claim_id"] != first["claim_id"]
    assert rebilled["amounts"]["program_paid"] == "1100.00"
    assert benefit(server, cardholder)["used"] == "1100.00"
