"""Who may do what: 401 without credentials, 403 for the wrong role, 404 for others' claims."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Server
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    REVIEWER_TOKEN,
    benefit,
    claim_payload,
    claims_of,
    enroll,
    enrollment_payload,
    submit,
)

pytestmark = pytest.mark.e2e


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body  # type: ignore[no-any-return]  # JSON is Any


def test_a_request_without_a_token_is_unauthorized(server: Server) -> None:
    response = server.call("POST", "/v1/claims", json=claim_payload("IC0000000000"))

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_request_with_an_unknown_token_is_unauthorized(server: Server) -> None:
    for token in ("pk_not_a_key", "ut_not_a_token", "garbage"):
        response = server.call("GET", "/v1/claims", token)
        assert_problem(response, 401)


def test_a_pharmacy_may_not_enroll_patients(server: Server) -> None:
    response = server.call("POST", "/v1/enrollments", DEMO_PHARMACY_KEY, json=enrollment_payload())

    assert_problem(response, 403)


def test_a_reviewer_may_not_submit_claims(server: Server) -> None:
    member = enroll(server, state="NY")
    response = server.call(
        "POST", "/v1/claims", REVIEWER_TOKEN, json=claim_payload(member["cardholder_id"])
    )

    assert_problem(response, 403)
    assert claims_of(server, member["cardholder_id"]) == []


def test_a_caller_without_the_role_gets_401_or_403_whatever_body_it_sends(server: Server) -> None:
    bad_bodies: list[dict[str, Any]] = [
        {"data": b"not json at all"},
        {"json": {"bogus": True}},
        {"json": {"lines": [{"patient_responsibility": "1000.0"}]}},
    ]
    for body in bad_bodies:
        assert_problem(server.call("POST", "/v1/claims", REVIEWER_TOKEN, **body), 403)
        assert_problem(server.call("POST", "/v1/claims", None, **body), 401)
        assert_problem(server.call("POST", "/v1/enrollments", DEMO_PHARMACY_KEY, **body), 403)


def test_a_pharmacy_may_not_bill_under_another_pharmacys_npi(
    server: Server, second_pharmacy: dict[str, Any]
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, npi=second_pharmacy["npi"])

    response = server.call("POST", "/v1/claims", DEMO_PHARMACY_KEY, json=payload)

    assert_problem(response, 403)
    assert claims_of(server, cardholder) == []
    assert benefit(server, cardholder)["used"] == "0.00"


def test_a_second_pharmacy_can_neither_read_nor_reverse_the_first_pharmacys_claim(
    server: Server, second_pharmacy: dict[str, Any]
) -> None:
    member = enroll(server, state="NY")
    paid = submit(server, claim_payload(member["cardholder_id"], drug="600.00"))
    claim_path = f"/v1/claims/{paid['claim_id']}"
    other = second_pharmacy["api_key"]

    assert_problem(server.call("GET", claim_path, other), 404)
    assert_problem(server.call("POST", f"{claim_path}/reversal", other), 404)
    assert server.call("GET", claim_path, DEMO_PHARMACY_KEY).json()["status"] == "paid"


def test_hub_staff_can_read_any_pharmacys_claim(
    server: Server, second_pharmacy: dict[str, Any]
) -> None:
    member = enroll(server, state="NY")
    payload = claim_payload(member["cardholder_id"], drug="600.00", npi=second_pharmacy["npi"])
    paid = submit(server, payload, token=second_pharmacy["api_key"])
    assert paid["status"] == "paid"

    for token in (REVIEWER_TOKEN, ADMIN_TOKEN):
        response = server.call("GET", f"/v1/claims/{paid['claim_id']}", token)
        assert response.status_code == 200, response.text
        assert response.json()["claim_id"] == paid["claim_id"]
        assert response.json()["amounts"] == paid["amounts"]
        assert response.json()["events"]
