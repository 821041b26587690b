"""The JSON API and D.0 are two doors to one adjudicator (NCPDP.md): a claim billed through
one is a duplicate when it comes again through the other, the listing shows which door a
claim came through, and the same claim content gets the same amounts through either door.

The D.0 side is `encode_claim` of the JSON request, so the claim has what D.0 carries: a
digits-only Rx number, one drug line, no service line, no diagnosis code and no other
payer PCN (D.0 has no field for either; decisions.md #100)."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import pytest

from adjudicator.ncpdp.encode import encode_claim
from tests.e2e.conftest import Server
from tests.e2e.d0_helpers import (
    cents,
    claim,
    d0_claim,
    outcome,
    over_http,
    over_tcp,
    pricing_of,
    status_of,
)
from tests.e2e.helpers import DEMO_PHARMACY_KEY, claims_of, enroll, submit

pytestmark = pytest.mark.e2e


def sender(server: Server, switch_key: str, door: str) -> Callable[[bytes], bytes]:
    if door == "http":
        return lambda body: over_http(server, body, switch_key)
    return lambda body: over_tcp(server, body)


def member(server: Server, **kwargs: Any) -> str:
    kwargs.setdefault("state", "NY")
    return str(enroll(server, **kwargs)["cardholder_id"])


# --- duplicates across the doors -------------------------------------------------------


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_json_claim_billed_again_as_d0_answers_d_with_the_json_claims_answer(
    server: Server, switch_key: str, door: str
) -> None:
    cardholder = member(server)
    payload = d0_claim(cardholder, drug="1200.00")
    first = submit(server, payload)
    assert first["status"] == "paid"

    answer = sender(server, switch_key, door)(encode_claim(payload).encode("ascii"))
    assert outcome(answer) == ("D", [])
    assert status_of(answer).first("F3") == first["authorization_number"]
    amounts = pricing_of(answer)
    assert amounts is not None
    assert amounts["F9"] == cents(first["amounts"]["program_paid"]) == 120_000
    assert amounts["F5"] == cents(first["amounts"]["patient_pay"])
    assert amounts["FE"] == cents(first["benefit"]["remaining"])
    [only] = claims_of(server, cardholder)
    assert (only["claim_id"], only["channel"]) == (first["claim_id"], "json")


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_d0_claim_billed_again_as_json_answers_the_json_duplicate(
    server: Server, switch_key: str, door: str
) -> None:
    cardholder = member(server)
    payload = d0_claim(cardholder, drug="1100.00")
    answer = sender(server, switch_key, door)(encode_claim(payload).encode("ascii"))
    assert outcome(answer) == ("P", [])
    [original] = claims_of(server, cardholder)
    assert original["channel"] == "ncpdp"
    assert original["authorization_number"] == status_of(answer).first("F3")

    again = submit(server, payload)
    assert again["status"] == "duplicate"
    assert again["claim_id"] == original["claim_id"]
    assert again["authorization_number"] == original["authorization_number"]
    assert again["amounts"]["program_paid"] == "1100.00"
    assert [c["claim_id"] for c in claims_of(server, cardholder)] == [original["claim_id"]]


def test_the_listing_shows_the_door_each_claim_came_through(
    server: Server, switch_key: str
) -> None:
    cardholder = member(server)
    through_json = submit(server, d0_claim(cardholder, drug="100.00"))
    answer = over_http(
        server, encode_claim(d0_claim(cardholder, drug="200.00")).encode(), switch_key
    )
    by_d0 = status_of(answer).first("F3")
    channels = {c["authorization_number"]: c["channel"] for c in claims_of(server, cardholder)}
    assert channels == {through_json["authorization_number"]: "json", by_d0: "ncpdp"}
    assert claim(server, through_json["claim_id"])["channel"] == "json"
    # a pharmacy reads the claim a switch billed in its name, with its channel
    listed = server.call("GET", f"/v1/claims?cardholder_id={cardholder}", DEMO_PHARMACY_KEY)
    assert listed.status_code == 200
    assert {c["channel"] for c in listed.json()["items"]} == {"json", "ncpdp"}


# --- the same claim content, the same amounts through either door ----------------------

CODE_3_70 = {
    "other_coverage_code": 3,
    "other_payer_bin": "003858",
    "other_payer_reject_codes": ["70"],
}
# (name, enrollment, claim changes, claims billed before it through JSON, the JSON
# decision's (status, program_paid): what makes each variation the case it names)
VARIATIONS: list[tuple[str, dict[str, Any], dict[str, Any], list[str], tuple[str, str]]] = [
    ("commercial secondary code 8", {}, {}, [], ("paid", "1500.00")),
    (
        "cash pay, uninsured, no cob",
        {"coverage_type": "uninsured"},
        {"cob": None, "drug": "800.00"},
        [],
        ("paid", "800.00"),
    ),
    (
        "code 3, the primary rejected 70",
        {},
        {"cob": CODE_3_70},
        [],
        ("paid", "1000.00"),
    ),  # cash pay
    (
        "cash pay over the $1,000 per-Rx max",
        {"coverage_type": "uninsured"},
        {"cob": None},
        [],
        ("paid", "1000.00"),
    ),
    (
        "partly over the annual max",
        {},
        {"drug": "1500.00"},
        ["1500.00"] * 7 + ["500.00"],
        ("paid", "1000.00"),
    ),
    ("rejected: a product not covered", {}, {"ndc": "00002875001"}, [], ("rejected", "0.00")),
]


@pytest.mark.parametrize("door", ["http", "tcp"])
@pytest.mark.parametrize(
    ("enrollment", "changes", "history", "expected"),
    [v[1:] for v in VARIATIONS],
    ids=[v[0] for v in VARIATIONS],
)
def test_the_same_claim_through_either_door_gets_the_same_decision_and_amounts(
    server: Server,
    switch_key: str,
    door: str,
    enrollment: dict[str, Any],
    changes: dict[str, Any],
    history: list[str],
    expected: tuple[str, str],
) -> None:
    by_json, by_d0 = member(server, **enrollment), member(server, **enrollment)
    for cardholder in (by_json, by_d0):  # the same year so far for both members
        for amount in history:
            assert submit(server, d0_claim(cardholder, drug=amount))["status"] == "paid"

    # Separate members and separate NCPDP keys (pharmacy, Rx, fill, date: no cardholder in
    # it), so that neither claim is a duplicate (or an 83) of the other.
    as_json = submit(server, d0_claim(by_json, **copy.deepcopy(changes)))
    payload = d0_claim(by_d0, **copy.deepcopy(changes))
    assert (as_json["status"], as_json["amounts"]["program_paid"]) == expected
    answer = sender(server, switch_key, door)(encode_claim(payload).encode("ascii"))

    status, codes = outcome(answer)
    assert codes == [reject["code"] for reject in as_json["reject_codes"]]
    if as_json["status"] == "rejected":
        assert status == "R"
        assert pricing_of(answer) is None
        return
    assert (as_json["status"], status) == ("paid", "P")
    amounts = pricing_of(answer)
    assert amounts is not None
    assert amounts["F9"] == cents(as_json["amounts"]["program_paid"])
    assert amounts["F5"] == cents(as_json["amounts"]["patient_pay"])
    assert amounts["FE"] == cents(as_json["benefit"]["remaining"])
    held_back = any(r["rule"] in ("annual_max", "cash_pay_per_rx_max") for r in as_json["reasons"])
    expected_fk = cents(as_json["amounts"]["eligible"]) - cents(as_json["amounts"]["program_paid"])
    assert amounts.get("FK") == (expected_fk if held_back else None)
    # the D.0 claim is the JSON view's claim, with the same amounts
    authorization = status_of(answer).first("F3")
    shown = [c for c in claims_of(server, by_d0) if c["authorization_number"] == authorization]
    assert [c["amounts"] for c in shown] == [as_json["amounts"]]


def test_a_json_claim_with_leading_zeros_in_its_rx_number_is_not_paid_again_through_d0(
    server: Server, switch_key: str
) -> None:
    cardholder = member(server)
    payload = d0_claim(cardholder, rx_number="000" + str(random.randint(10**5, 10**6)))
    assert submit(server, payload)["status"] == "paid"
    answer = over_http(server, encode_claim(payload).encode("ascii"), switch_key)
    assert outcome(answer)[0] == "D"  # the same NCPDP key: the JSON claim, repeated
    assert len([c for c in claims_of(server, cardholder) if c["status"] == "paid"]) == 1
