"""dzero-python, an outside D.0 library, as the pharmacy system: its transmissions billed,
reversed, rebilled and checked through both transports of a real `adjudicator run`, its
parser reading the answers, and the JSON API showing the same claims and amounts."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.d0_helpers import (
    cents,
    claim,
    claim_with_authorization,
    d0_connection,
    dz_billing,
    dz_eligibility,
    dz_parse,
    dz_pricing,
    dz_reversal,
    dz_status,
    has_segment,
    lines,
    outcome,
    over_http,
    over_tcp,
)
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    DEMO_PHARMACY_NPI,
    benefit,
    claims_of,
    enroll,
)

pytestmark = pytest.mark.e2e


def digits_rx() -> str:
    return str(random.randint(10**8, 10**11))


def member(server: Server) -> str:
    return str(enroll(server, state="NY")["cardholder_id"])


def assert_paid_as_json_says(server: Server, cardholder: str, answer: bytes) -> dict[str, Any]:
    """The dzero-parsed answer is P; its AM23 equals the JSON claim's amounts. The claim."""
    response = dz_parse(answer)
    assert response.header["version"] == "D0"
    assert response.header["header_response_status"] == "A"
    status = dz_status(response)
    assert status["AN"] == "P", response.to_json()
    shown = claim_with_authorization(server, cardholder, status["F3"])
    assert shown["status"] == "paid"
    assert shown["channel"] == "ncpdp"
    amounts = dz_pricing(response)
    assert amounts["F9"] == cents(shown["amounts"]["program_paid"])
    assert amounts["F6"] == cents(shown["amounts"]["program_paid"])
    assert amounts["F5"] == cents(shown["amounts"]["patient_pay"])
    assert amounts["FE"] == cents(shown["benefit"]["remaining"])
    return shown


@pytest.mark.parametrize("caller", ["switch", "pharmacy"])
def test_a_dzero_b1_over_http_is_paid_with_the_json_claims_amounts(
    server: Server, switch_key: str, caller: str
) -> None:
    cardholder = member(server)
    token = switch_key if caller == "switch" else DEMO_PHARMACY_KEY
    answer = over_http(
        server, dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=digits_rx(), owed=130_000), token
    )
    shown = assert_paid_as_json_says(server, cardholder, answer)
    assert shown["amounts"]["program_paid"] == "1300.00"
    assert dz_status(dz_parse(answer))["FQ"]  # a message line (dzero keeps the last one)
    assert "BENEFIT REMAINING 10700.00" in lines(answer)
    assert benefit(server, cardholder, "2026-03-01")["used"] == "1300.00"


def test_a_dzero_b1_over_tcp_is_paid_with_the_json_claims_amounts(server: Server) -> None:
    cardholder = member(server)
    answer = over_tcp(server, dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=digits_rx()))
    shown = assert_paid_as_json_says(server, cardholder, answer)
    assert shown["amounts"]["program_paid"] == "1500.00"
    assert shown["amounts"]["patient_pay"] == "0.00"


def test_a_cash_pay_b1_answers_the_per_rx_max_held_back_in_fk(server: Server) -> None:
    cardholder = str(enroll(server, state="NY", coverage_type="uninsured")["cardholder_id"])
    answer = over_http(
        server,
        dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=digits_rx(), coverage=None, owed=150_000),
        DEMO_PHARMACY_KEY,
    )
    shown = assert_paid_as_json_says(server, cardholder, answer)
    assert shown["cash_pay"] is True
    assert (shown["amounts"]["program_paid"], shown["amounts"]["patient_pay"]) == (
        "1000.00",
        "500.00",
    )
    assert dz_pricing(dz_parse(answer))["FK"] == 50_000


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_dzero_b2_reverses_once_then_answers_s_and_the_json_claim_is_reversed(
    server: Server, switch_key: str, door: str
) -> None:
    cardholder, rx = member(server), digits_rx()

    def send(body: bytes) -> bytes:
        return over_http(server, body, switch_key) if door == "http" else over_tcp(server, body)

    paid = send(dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=rx))
    shown = assert_paid_as_json_says(server, cardholder, paid)
    assert benefit(server, cardholder, "2026-03-01")["used"] == "1500.00"

    first = dz_parse(send(dz_reversal(DEMO_PHARMACY_NPI, rx=rx)))
    assert first.header["header_response_status"] == "A"
    assert dz_status(first)["AN"] == "A"
    assert not has_segment(first, "23")
    assert claim(server, shown["claim_id"])["status"] == "reversed"
    assert benefit(server, cardholder, "2026-03-01")["used"] == "0.00"

    again = dz_parse(send(dz_reversal(DEMO_PHARMACY_NPI, rx=rx)))
    assert dz_status(again)["AN"] == "S"
    assert benefit(server, cardholder, "2026-03-01")["used"] == "0.00"
    assert [c["status"] for c in claims_of(server, cardholder)] == ["reversed"]


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_dzero_b3_pays_the_new_content_and_the_old_claim_shows_reversed_naming_it(
    server: Server, switch_key: str, door: str
) -> None:
    cardholder, rx = member(server), digits_rx()

    def send(body: bytes) -> bytes:
        return over_http(server, body, switch_key) if door == "http" else over_tcp(server, body)

    old = assert_paid_as_json_says(
        server, cardholder, send(dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=rx))
    )
    rebilled = send(dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=rx, code="B3", owed=90_000))
    new = assert_paid_as_json_says(server, cardholder, rebilled)
    assert new["claim_id"] != old["claim_id"]
    assert new["amounts"]["program_paid"] == "900.00"

    replaced = claim(server, old["claim_id"])
    assert replaced["status"] == "reversed"
    assert any(new["claim_id"] in json.dumps(event) for event in replaced["events"]), replaced
    assert benefit(server, cardholder, "2026-03-01")["used"] == "900.00"
    assert sorted(c["status"] for c in claims_of(server, cardholder)) == ["paid", "reversed"]


def test_a_dzero_e1_is_accepted_with_the_benefit_period_and_remaining(
    server: Server, switch_key: str
) -> None:
    cardholder = member(server)
    over_http(server, dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=digits_rx()), switch_key)
    before = claims_of(server, cardholder)

    for answer in (
        over_http(server, dz_eligibility(cardholder, DEMO_PHARMACY_NPI), switch_key),
        over_tcp(server, dz_eligibility(cardholder, DEMO_PHARMACY_NPI)),
    ):
        response = dz_parse(answer)
        assert response.header["header_response_status"] == "A"
        assert response.header["transaction_code"] == "E1"
        assert dz_status(response)["AN"] == "A"
        assert outcome(answer) == ("A", [])
        assert lines(answer) == ["BENEFIT PERIOD 20260101-20261231", "BENEFIT REMAINING 10500.00"]
    assert claims_of(server, cardholder) == before  # an inquiry stores no claim


def test_one_tcp_connection_answers_its_frames_in_order(server: Server) -> None:
    cardholder, rx = member(server), digits_rx()
    with d0_connection(server) as connection:
        for body in (
            dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=rx),
            dz_billing(cardholder, DEMO_PHARMACY_NPI, rx=rx),
            dz_reversal(DEMO_PHARMACY_NPI, rx=rx),
            dz_eligibility(cardholder, DEMO_PHARMACY_NPI),
        ):
            connection.send(body)
        answers = [connection.receive() for _ in range(4)]
    assert [outcome(a)[0] for a in answers] == ["P", "D", "A", "A"]
    assert [dz_parse(a).header["transaction_code"] for a in answers] == ["B1", "B1", "B2", "E1"]
    assert lines(answers[3])[-1] == "BENEFIT REMAINING 12000.00"  # given back by the B2


def test_an_e1_as_dzero_python_writes_it_without_a_group_separator_is_a9(
    server: Server, switch_key: str
) -> None:
    """dzero-python writes no transaction group that holds no segment, so its E1 has no
    0x1D; NCPDP.md counts groups by their separators (an empty one included): A9. A
    pharmacy system on dzero-python must add the separator (`dz_eligibility` does)."""
    cardholder = member(server)
    bare = dz_eligibility(cardholder, DEMO_PHARMACY_NPI)[:-1]
    assert b"\x1d" not in bare
    answer = over_http(server, bare, switch_key)
    assert dz_parse(answer).header["header_response_status"] == "R"
    assert outcome(answer) == ("R", ["A9"])
