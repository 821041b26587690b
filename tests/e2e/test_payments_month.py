"""A month of claims paid over a real server and worker, cycles closed each week,
reversals after their remittance, an applied re-adjudication: every dollar remitted once,
and `adjudicator payments check` clean. The server is shared: this test bills through a
pharmacy of its own and sums only that pharmacy's remittances."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Server
from tests.e2e.helpers import claim_payload, cli_status, enroll, new_pharmacy, submit
from tests.e2e.test_readjudication import run_job

pytestmark = pytest.mark.e2e


def _close(server: Server) -> dict:
    answer = server.call("POST", "/v1/payment-cycles", ADMIN_TOKEN, json={})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]  # JSON is Any


def test_a_month_of_claims_and_weekly_cycles_remits_every_dollar_once(server: Server) -> None:
    pharmacy = new_pharmacy(server)
    key, npi = pharmacy["api_key"], pharmacy["npi"]
    members = [enroll(server, state="NY") for _ in range(4)]
    paid: list[dict] = []
    for week in range(4):
        for day in range(3):
            served = date(2026, 3, 1) + timedelta(days=7 * week + 2 * day)
            member = members[(week + day) % len(members)]
            payload = claim_payload(
                member["cardholder_id"], drug="1500.00", date_of_service=served.isoformat()
            )
            payload["service_provider_id"] = npi
            decided = submit(server, payload, token=key)
            assert decided["status"] == "paid", decided
            paid.append(decided)
        if week >= 1:  # a claim remitted last week is reversed this week
            earlier = paid[3 * (week - 1)]
            reversed_ = server.call("POST", f"/v1/claims/{earlier['claim_id']}/reversal", key)
            assert reversed_.status_code == 200, reversed_.text
        _close(server)

    # A member at the annual maximum: her last claim was cut to what was left. One of her
    # claims is reversed after its remittance; re-adjudicating her year pays the cut claim
    # in full: an adjustment, remitted in the next cycle.
    capped = enroll(server, state="NY")
    for n in range(8):
        amount = "3000.00" if n == 7 else "1500.00"
        payload = claim_payload(capped["cardholder_id"], drug=amount, date_of_service="2026-03-20")
        payload["service_provider_id"] = npi
        paid.append(submit(server, payload, token=key))
    assert paid[-1]["amounts"]["program_paid"] == "1500.00"  # $10,500 used before it
    _close(server)
    reversed_ = server.call("POST", f"/v1/claims/{paid[-2]['claim_id']}/reversal", key)
    assert reversed_.status_code == 200, reversed_.text
    job = run_job(server, capped["cardholder_id"], "apply")
    assert job["status"] == "succeeded" and job["summary"]["changed"] == 1, job
    _close(server)

    remitted = server.call("GET", f"/v1/remittances?npi={npi}&limit=200", key).json()["items"]
    claims = server.call("GET", "/v1/claims?limit=200", key).json()["items"]
    owed_now = sum(Decimal(c["amounts"]["program_paid"]) for c in claims if c["status"] == "paid")
    assert sum(Decimal(r["total"]) for r in remitted) == owed_now
    assert sum(Decimal(r["payment"]) for r in remitted) + Decimal(remitted[0]["owed"]) == owed_now
    lines = [
        line
        for r in remitted
        for line in server.call("GET", f"/v1/remittances/{r['remittance_id']}", key).json()["lines"]
    ]
    assert {line["kind"] for line in lines} == {"payment", "reversal", "adjustment"}
    status, out = cli_status(server, "payments", "check")
    assert status == 0, out
