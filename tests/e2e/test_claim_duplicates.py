"""Resubmissions: an identical claim answers `duplicate`; the same key with other content 83."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.helpers import benefit, claim_payload, claims_of, enroll, submit

pytestmark = pytest.mark.e2e


def test_an_identical_resubmission_answers_duplicate_with_the_same_claim_and_changes_nothing(
    server: Server,
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, drug="1500.00")

    first = submit(server, payload)
    assert first["status"] == "paid"
    used = benefit(server, cardholder)["used"]

    again = submit(server, payload)

    assert again["status"] == "duplicate"
    assert again["claim_id"] == first["claim_id"]
    assert again["authorization_number"] == first["authorization_number"]
    assert again["amounts"] == first["amounts"]
    assert again["benefit"] == first["benefit"]
    assert benefit(server, cardholder)["used"] == used == "1500.00"
    assert [c["claim_id"] for c in claims_of(server, cardholder)] == [first["claim_id"]]


def test_the_same_ncpdp_key_with_a_different_amount_is_rejected_83(server: Server) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, drug="1500.00")
    first = submit(server, payload)
    assert first["status"] == "paid"

    changed = {**payload, "lines": [{**payload["lines"][0], "patient_responsibility": "1400.00"}]}
    second = submit(server, changed)

    assert second["status"] == "rejected"
    assert second["claim_id"] != first["claim_id"]
    assert [r["code"] for r in second["reject_codes"]] == ["83"]
    assert second["amounts"]["program_paid"] == "0.00"
    assert benefit(server, cardholder)["used"] == "1500.00"


def test_a_hyphenated_ndc_is_the_same_claim_as_the_eleven_digit_ndc(server: Server) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, drug="1200.00", ndc="15054104005")
    first = submit(server, payload)
    assert first["status"] == "paid"

    hyphenated = {**payload, "lines": [{**payload["lines"][0], "code": "15054-1040-05"}]}
    again = submit(server, hyphenated)

    assert again["status"] == "duplicate"
    assert again["claim_id"] == first["claim_id"]
    assert again["amounts"] == first["amounts"]
    assert benefit(server, cardholder)["used"] == "1200.00"


def test_an_absent_cob_is_the_same_claim_as_other_coverage_code_1(server: Server) -> None:
    # Code 1 (no other coverage) pays only for a cash-pay enrollment.
    member = enroll(server, state="NY", coverage_type="uninsured")
    cardholder = member["cardholder_id"]
    without_cob = claim_payload(cardholder, drug="800.00", cob=None)
    first = submit(server, without_cob)
    assert first["status"] == "paid"
    assert first["cash_pay"] is True

    with_code_1 = {**without_cob, "cob": {"other_coverage_code": 1}}
    again = submit(server, with_code_1)

    assert again["status"] == "duplicate"
    assert again["claim_id"] == first["claim_id"]
    assert again["amounts"] == first["amounts"]
    assert benefit(server, cardholder)["used"] == "800.00"
