"""The annual maximum through the D.0 door of a real server: a B3 at the cap sees the old
claim's amount given back, and concurrent B1s for one patient from many HTTP and TCP
connections never pay past $12,000, with the accumulators agreeing with the ledger."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from adjudicator.ncpdp.encode import encode_claim
from tests.e2e.conftest import Server
from tests.e2e.d0_helpers import (
    SERVED,
    claim,
    d0_claim,
    d0_connection,
    outcome,
    over_http,
    over_tcp,
    pricing_of,
    status_of,
)
from tests.e2e.helpers import (
    DEMO_PHARMACY_NPI,
    benefit,
    claims_of,
    cli_status,
    enroll,
    submit,
)
from tests.ncpdp_builders import billing

pytestmark = pytest.mark.e2e

ANNUAL_MAX = 1_200_000  # cents


def b1(cardholder: str, rx: str, owed: int, code: str = "B1") -> bytes:
    return billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=rx, owed=owed, code=code)


def sender(server: Server, switch_key: str, door: str) -> Callable[[bytes], bytes]:
    if door == "http":
        return lambda body: over_http(server, body, switch_key)
    return lambda body: over_tcp(server, body)


def used(server: Server, cardholder: str) -> str:
    return str(benefit(server, cardholder, "2026-03-01")["used"])


def assert_accumulators_clean(server: Server) -> None:
    code, out = cli_status(server, "accumulators", "check")
    assert code == 0, out
    assert json.loads(out)["mismatches"] == []


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_b3_at_the_annual_cap_is_paid_from_the_old_claims_amount_given_back(
    server: Server, switch_key: str, door: str
) -> None:
    send = sender(server, switch_key, door)
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    rxs = [str(random.randint(10**8, 10**11)) for _ in range(8)]
    first = [send(b1(cardholder, rx, 150_000)) for rx in rxs]
    assert [outcome(answer) for answer in first] == [("P", [])] * 8
    assert used(server, cardholder) == "12000.00"
    beyond = send(b1(cardholder, str(random.randint(10**8, 10**11)), 10_000))
    assert outcome(beyond) == ("R", ["76"])  # the year is used up for a new claim

    # Less than the old claim: its 1500.00 is given back, 1400.00 taken.
    rebill = send(b1(cardholder, rxs[0], 140_000, code="B3"))
    assert outcome(rebill) == ("P", [])
    amounts = pricing_of(rebill)
    assert amounts is not None
    assert (amounts["F9"], amounts["F5"], amounts["FE"]) == (140_000, 0, 10_000)
    assert "FK" not in amounts
    assert used(server, cardholder) == "11900.00"
    old = status_of(first[0]).first("F3")
    [replaced] = [c for c in claims_of(server, cardholder) if c["authorization_number"] == old]
    assert claim(server, replaced["claim_id"])["status"] == "reversed"

    # Back to 1500.00: the 1400.00 given back and the 100.00 left are all of it.
    again = send(b1(cardholder, rxs[0], 150_000, code="B3"))
    assert outcome(again) == ("P", [])
    amounts = pricing_of(again)
    assert amounts is not None
    assert (amounts["F9"], amounts["F5"], amounts["FE"]) == (150_000, 0, 0)
    assert used(server, cardholder) == "12000.00"
    statuses = sorted(c["status"] for c in claims_of(server, cardholder))
    assert statuses == ["paid"] * 8 + ["rejected"] + ["reversed"] * 2
    assert_accumulators_clean(server)


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_b3_raising_a_claim_at_the_cap_pays_only_what_the_year_has_left(
    server: Server, switch_key: str, door: str
) -> None:
    send = sender(server, switch_key, door)
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    small = str(random.randint(10**8, 10**11))
    for rx, owed in [(small, 100_000)] + [
        (str(random.randint(10**8, 10**11)), 150_000) for _ in range(7)
    ]:
        assert outcome(send(b1(cardholder, rx, owed)))[0] == "P"
    assert used(server, cardholder) == "11500.00"

    raised = send(b1(cardholder, small, 150_000, code="B3"))
    assert outcome(raised) == ("P", [])
    amounts = pricing_of(raised)
    assert amounts is not None
    # 1000.00 given back + 500.00 left = 1500.00: all of it, nothing held back
    assert (amounts["F9"], amounts["F5"], amounts["FE"]) == (150_000, 0, 0)
    assert "FK" not in amounts
    assert used(server, cardholder) == "12000.00"

    # At the cap: raising it by 100.00 more pays the 1500.00 given back, holds back 100.00.
    over = send(b1(cardholder, small, 160_000, code="B3"))
    assert outcome(over) == ("P", [])
    amounts = pricing_of(over)
    assert amounts is not None
    assert (amounts["F9"], amounts["F5"], amounts["FE"], amounts["FK"]) == (
        150_000,
        10_000,
        0,
        10_000,
    )
    assert used(server, cardholder) == "12000.00"
    assert len([c for c in claims_of(server, cardholder) if c["status"] == "paid"]) == 8
    assert_accumulators_clean(server)


def test_concurrent_b1s_for_one_patient_over_http_and_tcp_never_pass_the_annual_max(
    server: Server, switch_key: str
) -> None:
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    bodies = [
        b1(cardholder, f"77{i:04d}{random.randint(10**5, 10**6)}", 150_000) for i in range(30)
    ]
    chunks = [bodies[i::10] for i in range(10)]  # 10 threads, 3 claims each

    def bill(worker: int) -> list[bytes]:
        if worker % 2:  # odd threads: HTTP as the switch
            return [over_http(server, body, switch_key) for body in chunks[worker]]
        with d0_connection(server) as connection:  # even threads: one TCP connection each
            for body in chunks[worker]:
                connection.send(body)
            return [connection.receive() for _ in chunks[worker]]

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = [answer for answers in pool.map(bill, range(10)) for answer in answers]

    assert len(answers) == 30
    paid = 0
    for answer in answers:
        status, codes = outcome(answer)
        assert (status, codes) in (("P", []), ("R", ["76"]), ("D", [])), (status, codes)
        if status == "P":
            amounts = pricing_of(answer)
            assert amounts is not None and 0 < amounts["F9"] <= 150_000
            paid += amounts["F9"]
    assert paid == ANNUAL_MAX  # far more was asked: the year is used up, never passed
    assert used(server, cardholder) == "12000.00"
    stored = claims_of(server, cardholder)
    assert len(stored) == 30
    assert (
        sum(
            int(c["amounts"]["program_paid"].replace(".", ""))
            for c in stored
            if c["status"] == "paid"
        )
        == ANNUAL_MAX
    )
    authorizations = {status_of(a).first("F3") for a in answers if outcome(a)[0] == "P"}
    assert authorizations == {c["authorization_number"] for c in stored if c["status"] == "paid"}
    assert_accumulators_clean(server)


def test_identical_claims_at_once_through_json_http_and_tcp_are_paid_once(
    server: Server, switch_key: str
) -> None:
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    payload = d0_claim(cardholder, drug="1234.00")
    body = encode_claim(payload).encode("ascii")

    def send(number: int) -> tuple[str, str | None]:
        """(paid/duplicate/P/D..., the authorization number)"""
        if number % 3 == 0:
            decision = submit(server, payload)
            return decision["status"], decision["authorization_number"]
        answer = over_http(server, body, switch_key) if number % 3 == 1 else over_tcp(server, body)
        return outcome(answer)[0] or "", status_of(answer).first("F3")

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(12)))

    assert len({authorization for _, authorization in answers}) == 1, answers
    statuses = sorted(status for status, _ in answers)
    first = [s for s in statuses if s in ("paid", "P")]
    assert len(first) == 1, statuses
    assert set(statuses) - set(first) <= {"duplicate", "D"}, statuses
    # One paid claim; PostgreSQL's intakes may each store theirs before either commits,
    # and the workers then record the later ones as duplicates of the paid one.
    stored = sorted(c["status"] for c in claims_of(server, cardholder))
    assert stored.count("paid") == 1 and set(stored) <= {"paid", "duplicate"}, stored
    assert used(server, cardholder) == "1234.00"


def test_concurrent_b3s_of_one_claim_leave_exactly_one_paid_claim_under_the_key(
    server: Server, switch_key: str
) -> None:
    cardholder, rx = str(enroll(server, state="NY")["cardholder_id"]), "8675309"
    assert outcome(over_http(server, b1(cardholder, rx, 150_000), switch_key)) == ("P", [])
    amounts = [100_000 + 10_000 * i for i in range(8)]  # 1000.00 .. 1700.00, all different

    def rebill(owed: int) -> tuple[str | None, list[str]]:
        body = b1(cardholder, rx, owed, code="B3")
        answer = over_http(server, body, switch_key) if owed % 20_000 else over_tcp(server, body)
        return outcome(answer)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(rebill, amounts))

    # P: it replaced the claim paid then; 84: another B3 had replaced it first; D: the
    # 1500.00 one is identical to the original, while that one was still the paid claim
    assert all(answer in (("P", []), ("R", ["84"]), ("D", [])) for answer in answers), answers
    assert ("P", []) in answers
    stored = claims_of(server, cardholder)
    paid = [c for c in stored if c["status"] == "paid"]
    assert len(paid) == 1, [(c["status"], c["amounts"]) for c in stored]
    assert {c["status"] for c in stored} <= {"paid", "reversed", "rejected"}
    assert used(server, cardholder) == paid[0]["amounts"]["program_paid"]
    assert_accumulators_clean(server)
