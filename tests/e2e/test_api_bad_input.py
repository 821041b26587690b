"""Bad claim bodies: 400 / 413 / 422 problem documents, and nothing stored or reserved."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    benefit,
    claim_payload,
    claims_of,
    enroll,
    submit,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def member_with_one_claim(server: Server) -> dict[str, Any]:
    """A fresh patient with one paid claim of 1000.00 (so "unchanged" means something)."""
    member = enroll(server, state="NY")
    paid = submit(server, claim_payload(member["cardholder_id"], drug="1000.00"))
    assert paid["status"] == "paid"
    return member


def assert_nothing_stored(server: Server, member: dict[str, Any]) -> None:
    cardholder = member["cardholder_id"]
    assert len(claims_of(server, cardholder)) == 1
    assert benefit(server, cardholder)["used"] == "1000.00"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body  # type: ignore[no-any-return]  # JSON is Any


def post_claim(server: Server, **kwargs: Any) -> Any:
    return server.call("POST", "/v1/claims", DEMO_PHARMACY_KEY, **kwargs)


def test_a_body_that_is_not_json_is_a_bad_request(
    server: Server, member_with_one_claim: dict[str, Any]
) -> None:
    text = json.dumps(claim_payload(member_with_one_claim["cardholder_id"]))[:-1]  # cut short

    response = post_claim(server, data=text, headers={"Content-Type": "application/json"})

    assert_problem(response, 400)
    assert_nothing_stored(server, member_with_one_claim)


def test_a_body_over_64_kib_is_too_large(
    server: Server, member_with_one_claim: dict[str, Any]
) -> None:
    payload = claim_payload(member_with_one_claim["cardholder_id"])
    payload["diagnosis_code"] = "E" * (65 * 1024)

    response = post_claim(server, json=payload)

    assert_problem(response, 413)
    assert_nothing_stored(server, member_with_one_claim)


def test_a_chunked_body_over_64_kib_is_too_large_too(
    server: Server, member_with_one_claim: dict[str, Any]
) -> None:
    payload = claim_payload(member_with_one_claim["cardholder_id"])
    payload["diagnosis_code"] = "E" * (65 * 1024)
    body = json.dumps(payload).encode()
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))  # no Content-Length

    response = post_claim(server, data=chunks, headers={"Content-Type": "application/json"})

    assert_problem(response, 413)
    assert_nothing_stored(server, member_with_one_claim)


def test_the_connection_stays_usable_after_a_413(server: Server) -> None:
    # The server answers 413 with "Connection: keep-alive", so a client reuses the socket.
    payload = claim_payload("IC0000000000")
    payload["diagnosis_code"] = "E" * (200 * 1024)
    with requests.Session() as session:
        url = server.base_url + "/v1/claims"
        auth = {"Authorization": f"Bearer {DEMO_PHARMACY_KEY}"}
        for _ in range(5):
            too_large = session.post(url, json=payload, headers=auth, timeout=30)
            assert too_large.status_code == 413
            assert session.get(server.base_url + "/healthz", timeout=30).status_code == 200


def test_an_unknown_field_is_rejected_with_errors_keyed_by_its_path(
    server: Server, member_with_one_claim: dict[str, Any]
) -> None:
    payload = claim_payload(member_with_one_claim["cardholder_id"])
    payload["lines"][0]["bogus"] = "x"

    response = post_claim(server, json=payload)

    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["lines.0.bogus"]
    assert_nothing_stored(server, member_with_one_claim)


def test_money_with_one_decimal_is_rejected_on_the_line_amount(
    server: Server, member_with_one_claim: dict[str, Any]
) -> None:
    payload = claim_payload(member_with_one_claim["cardholder_id"])
    payload["lines"][0]["patient_responsibility"] = "1000.0"

    response = post_claim(server, json=payload)

    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["lines.0.patient_responsibility"]
    assert body["errors"]["lines.0.patient_responsibility"]
    assert_nothing_stored(server, member_with_one_claim)
