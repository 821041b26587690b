"""Many claims at once: the annual max holds and an identical claim pays once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    benefit,
    claim_payload,
    claims_of,
    cli_status,
    enroll,
    money,
    paid_total,
    submit,
)

pytestmark = pytest.mark.e2e


def test_forty_concurrent_claims_for_one_patient_never_pay_more_than_the_annual_max(
    server: Server,
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    amounts = [f"{500 + 1000 * i // 39}.00" for i in range(40)]  # 500.00 .. 1500.00
    payloads = [
        claim_payload(cardholder, drug=amount, rx=f"RXC{i:03d}{cardholder}")
        for i, amount in enumerate(amounts)
    ]

    with ThreadPoolExecutor(max_workers=40) as pool:
        decisions = list(pool.map(lambda p: submit(server, p), payloads))

    assert len({d["claim_id"] for d in decisions}) == 40
    assert {d["status"] for d in decisions} <= {"paid", "rejected"}
    total = paid_total(decisions)
    assert total == Decimal("12000.00")  # far more was asked, so the year is used up
    for decision in decisions:
        if decision["status"] == "rejected":
            assert [r["code"] for r in decision["reject_codes"]] == ["76"]
        assert money(decision["amounts"]["program_paid"]) <= money(decision["amounts"]["eligible"])

    inquiry = benefit(server, cardholder)
    assert money(inquiry["used"]) == total
    assert inquiry["remaining"] == "0.00"
    stored = claims_of(server, cardholder)
    assert paid_total(stored) == total

    code, out = cli_status(server, "accumulators", "check")
    assert code == 0, out
    assert json.loads(out)["mismatches"] == []


def test_ten_concurrent_identical_submissions_pay_exactly_once(server: Server) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, drug="1234.00")

    with ThreadPoolExecutor(max_workers=10) as pool:
        decisions = list(pool.map(lambda _: submit(server, payload), range(10)))

    statuses = sorted(d["status"] for d in decisions)
    assert statuses == ["duplicate"] * 9 + ["paid"], statuses
    assert len({d["claim_id"] for d in decisions}) == 1
    assert all(d["amounts"]["program_paid"] == "1234.00" for d in decisions)
    assert benefit(server, cardholder)["used"] == "1234.00"
    paid = [c for c in claims_of(server, cardholder) if c["status"] == "paid"]
    assert len(paid) == 1
