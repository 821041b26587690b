"""Redis comes back empty twice in the middle of a run (a fail-over to a replica that had
not received the writes, a lost AOF, a FLUSHALL by mistake): the ledger still pays each
patient-year exactly its $12,000, every claim is decided, and the accumulators heal."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis

from tests.e2e.conftest import Server
from tests.e2e.helpers import DEMO_PHARMACY_KEY, claim_payload, claims_of, cli_status, enroll

pytestmark = pytest.mark.e2e

PATIENTS = 10
CLAIMS_EACH = 30  # $500 each: $15,000 asked of a $12,000 year
FORGET_AFTER = (100, 200)  # claims sent (and decided) before each time Redis forgets
DECIDED_WITHIN_SECONDS = 120  # lost messages wait for the sweep (every 15 s)


def _send(server: Server, payload: dict) -> int:
    answer = server.call(
        "POST", "/v1/claims", DEMO_PHARMACY_KEY, json=payload,
        headers={"Prefer": "respond-async"},
    )  # fmt: skip
    return answer.status_code  # type: ignore[no-any-return]  # requests' Response is untyped


def _all_decided(server: Server, cardholders: list[str]) -> dict[str, list[dict]]:
    """Each cardholder's claims, once none is `received` any more."""
    deadline = time.monotonic() + DECIDED_WITHIN_SECONDS
    while True:
        claims = {c: claims_of(server, c) for c in cardholders}
        if all(claim["status"] != "received" for each in claims.values() for claim in each):
            return claims
        assert time.monotonic() < deadline, "claims left undecided"
        time.sleep(1)


def test_a_redis_that_forgets_twice_never_lets_a_year_pay_past_its_maximum(
    server: Server, redis_url: str
) -> None:
    cardholders = [enroll(server, state="NY")["cardholder_id"] for _ in range(PATIENTS)]
    payloads = [
        claim_payload(cardholders[i % PATIENTS], drug="500.00")
        for i in range(PATIENTS * CLAIMS_EACH)
    ]
    client = redis.Redis.from_url(redis_url)
    answers: list[int] = []
    try:
        with ThreadPoolExecutor(8) as pool:
            start = 0
            for stop in (*FORGET_AFTER, len(payloads)):
                answers += pool.map(lambda p: _send(server, p), payloads[start:stop])
                if stop in FORGET_AFTER:
                    # Once what was sent is paid, Redis comes back with nothing it knew.
                    _all_decided(server, cardholders)
                    client.flushdb()
                start = stop
    finally:
        client.close()

    assert answers == [202] * len(payloads)
    claims = _all_decided(server, cardholders)
    assert [len(each) for each in claims.values()] == [CLAIMS_EACH] * PATIENTS
    for cardholder, each in claims.items():
        assert {claim["status"] for claim in each} <= {"paid", "rejected"}
        paid = sum(Decimal(claim["amounts"]["program_paid"]) for claim in each)
        assert paid == Decimal("12000.00"), cardholder
    # The sweep notices the epoch mark is gone and heals every accumulator from the ledger.
    deadline = time.monotonic() + 60
    while (status := cli_status(server, "accumulators", "check"))[0] != 0:
        assert time.monotonic() < deadline, status[1]
        time.sleep(2)
