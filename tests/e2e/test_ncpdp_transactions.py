"""More of NCPDP.md's Transactions against a real server: several transaction groups in one
transmission, each seeing the ones before it; the Rx number's leading zeros; a retried B3;
reversals across the two doors; what a switch bills belongs to the pharmacy it names; and
the message lines' count, qualifier and continuity fields."""

from __future__ import annotations

import random
from typing import Any

import pytest

from adjudicator.ncpdp import codec
from tests.e2e.conftest import Server
from tests.e2e.d0_helpers import (
    SERVED,
    altered,
    claim,
    ours,
    outcome,
    over_http,
    over_tcp,
    pricing_of,
    status_of,
    together,
)
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    DEMO_PHARMACY_NPI,
    FSA_MESSAGE,
    REVIEWER_TOKEN,
    benefit,
    claims_of,
    enroll,
    random_npi,
)
from tests.ncpdp_builders import billing, eligibility, reversal

pytestmark = pytest.mark.e2e


def digits_rx() -> str:
    return str(random.randint(10**8, 10**11))


def member(server: Server) -> str:
    return str(enroll(server, state="NY")["cardholder_id"])


def b1(cardholder: str, npi: str = DEMO_PHARMACY_NPI, **kwargs: Any) -> bytes:
    kwargs.setdefault("rx", digits_rx())
    return billing(cardholder, npi, served=SERVED, **kwargs)


def used(server: Server, cardholder: str) -> str:
    return str(benefit(server, cardholder, "2026-03-01")["used"])


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_four_groups_in_one_b1_are_answered_in_order_each_seeing_the_ones_before(
    server: Server, switch_key: str, door: str
) -> None:
    cardholder = member(server)
    for _ in range(6):  # 9000.00 used: 3000.00 left
        assert outcome(over_http(server, b1(cardholder), switch_key)) == ("P", [])
    body = together(
        b1(cardholder, owed=150_000),
        b1(cardholder, owed=100_000),
        altered(b1(cardholder), "07", "D5", "0"),  # 19: nothing stored, nothing reserved
        b1(cardholder, owed=150_000),
    )
    answer = over_http(server, body, switch_key) if door == "http" else over_tcp(server, body)
    response = ours(answer)
    assert (response.header["status"], response.header["count"]) == ("A", "4")
    assert [outcome(answer, g) for g in range(4)] == [
        ("P", []),
        ("P", []),
        ("R", ["19"]),
        ("P", []),
    ]
    paid = [pricing_of(answer, g) for g in (0, 1, 3)]
    assert [(p or {}).get("F9") for p in paid] == [150_000, 100_000, 50_000]
    assert [(p or {}).get("FE") for p in paid] == [150_000, 50_000, 0]
    assert (paid[2] or {}).get("FK") == 100_000  # the annual max held back 1000.00
    assert used(server, cardholder) == "12000.00"
    assert len(claims_of(server, cardholder)) == 9


def test_a_b2_of_two_groups_reverses_both_and_a_third_unknown_is_84(
    server: Server, switch_key: str
) -> None:
    cardholder, first, second = member(server), digits_rx(), digits_rx()
    for rx in (first, second):
        assert outcome(over_http(server, b1(cardholder, rx=rx), switch_key))[0] == "P"
    body = together(
        reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=first),
        reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=second),
        reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=digits_rx()),
        reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=first),
    )
    answer = over_http(server, body, switch_key)
    assert [outcome(answer, g) for g in range(4)] == [
        ("A", []),
        ("A", []),
        ("R", ["84"]),
        ("S", []),  # the first group reversed it already
    ]
    assert used(server, cardholder) == "0.00"


def test_a_b2_of_a_claim_that_was_rejected_is_84(server: Server, switch_key: str) -> None:
    cardholder, rx = member(server), digits_rx()
    rejected = over_http(
        server, altered(b1(cardholder, rx=rx), "07", "D7", "00002875001"), switch_key
    )
    assert outcome(rejected)[0] == "R"
    assert outcome(
        over_http(server, reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=rx), switch_key)
    ) == (
        "R",
        ["84"],
    )


def test_the_rx_numbers_leading_zeros_are_not_significant_and_d2_is_echoed_as_sent(
    server: Server, switch_key: str
) -> None:
    cardholder, rx = member(server), str(random.randint(10**5, 10**6))
    padded = "000" + rx
    answer = over_http(server, b1(cardholder, rx=padded), switch_key)
    assert outcome(answer) == ("P", [])
    assert ours(answer).groups[0].segment("22") == codec.Segment(
        "22", (("EM", "1"), ("D2", padded))
    )
    [stored] = claims_of(server, cardholder)
    assert claim(server, stored["claim_id"])["channel"] == "ncpdp"
    # the same claim without the zeros is its duplicate; the B2 finds it either way
    again = over_http(server, b1(cardholder, rx=rx), switch_key)
    assert outcome(again) == ("D", [])
    assert status_of(again).first("F3") == status_of(answer).first("F3")
    assert ours(again).groups[0].segment("22") == codec.Segment("22", (("EM", "1"), ("D2", rx)))
    gone = over_http(server, reversal(DEMO_PHARMACY_NPI, served=SERVED, rx="0" + rx), switch_key)
    assert outcome(gone) == ("A", [])
    assert claim(server, stored["claim_id"])["status"] == "reversed"


def test_a_retried_b3_answers_d_with_the_rebills_answer_and_changes_nothing(
    server: Server, switch_key: str
) -> None:
    cardholder, rx = member(server), digits_rx()
    assert outcome(over_http(server, b1(cardholder, rx=rx), switch_key))[0] == "P"
    rebill = b1(cardholder, rx=rx, code="B3", owed=120_000)
    first = over_http(server, rebill, switch_key)
    assert outcome(first) == ("P", [])
    before = claims_of(server, cardholder)
    retried = over_tcp(server, rebill)
    assert outcome(retried) == ("D", [])
    assert status_of(retried).first("F3") == status_of(first).first("F3")
    assert pricing_of(retried) == pricing_of(first)
    assert claims_of(server, cardholder) == before
    assert used(server, cardholder) == "1200.00"


def test_reversals_cross_the_doors(server: Server, switch_key: str) -> None:
    cardholder, rx = member(server), digits_rx()
    # a D.0 claim reversed through JSON by the NCPDP key; the B2 then answers S
    assert outcome(over_http(server, b1(cardholder, rx=rx), switch_key))[0] == "P"
    key = {
        "service_provider_id": DEMO_PHARMACY_NPI,
        "rx_number": rx,
        "fill_number": 0,
        "date_of_service": "2026-03-01",
    }
    response = server.call("POST", "/v1/reversals", DEMO_PHARMACY_KEY, json=key)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "reversed"
    again = over_http(server, reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=rx), switch_key)
    assert outcome(again) == ("S", [])
    assert used(server, cardholder) == "0.00"


def test_a_claim_a_switch_billed_belongs_to_the_pharmacy_its_header_names(
    server: Server, switch_key: str, second_pharmacy: dict[str, Any]
) -> None:
    cardholder = member(server)
    answer = over_http(server, b1(cardholder, npi=second_pharmacy["npi"]), switch_key)
    assert outcome(answer) == ("P", [])
    [stored] = claims_of(server, cardholder)
    path = f"/v1/claims/{stored['claim_id']}"
    assert server.call("GET", path, second_pharmacy["api_key"]).status_code == 200
    assert server.call("GET", path, DEMO_PHARMACY_KEY).status_code == 404
    assert server.call("POST", path + "/reversal", DEMO_PHARMACY_KEY).status_code == 404
    reversed_by_owner = server.call("POST", path + "/reversal", second_pharmacy["api_key"])
    assert reversed_by_owner.status_code == 200, reversed_by_owner.text
    assert reversed_by_owner.json()["status"] == "reversed"


def test_message_lines_are_40_characters_numbered_with_continuations(
    server: Server, switch_key: str
) -> None:
    answer = over_http(server, b1(member(server)), switch_key)
    fields = [(name, value) for name, value in status_of(answer).fields if name in "UF UH FQ UG"]
    texts = [value for name, value in fields if name == "FQ"]
    assert all(len(text) <= 40 for text in texts)
    assert " ".join(texts[:-1]) == FSA_MESSAGE  # wrapped at spaces, nothing lost
    assert texts[-1] == "BENEFIT REMAINING 10500.00"
    expected: list[tuple[str, str]] = [("UF", str(len(texts)))]
    for number, text in enumerate(texts, start=1):
        expected += [("UH", f"{number:02d}"), ("FQ", text)]
        if number < len(texts) - 1:  # the FSA text goes on; the last line of each text ends
            expected.append(("UG", "+"))
    assert fields == expected


def test_an_e1_with_a_birth_date_that_does_not_match_is_09_without_benefit_lines(
    server: Server, switch_key: str
) -> None:
    cardholder = member(server)
    answer = over_http(
        server,
        eligibility(cardholder, DEMO_PHARMACY_NPI, served=SERVED, birth="20100101"),
        switch_key,
    )
    assert outcome(answer) == ("R", ["09"])
    assert not any("BENEFIT" in line for line in status_of(answer).every("FQ"))
    matching = over_http(
        server,
        eligibility(cardholder, DEMO_PHARMACY_NPI, served=SERVED, birth="20150402"),
        switch_key,
    )
    assert outcome(matching) == ("A", [])


def test_a_padded_cardholder_id_is_read_alike_by_e1_and_b1(server: Server, switch_key: str) -> None:
    cardholder = member(server)
    padded = cardholder + "   "  # D.0 values may come padded with spaces, as 301-C1 does
    e1 = over_http(server, eligibility(padded, DEMO_PHARMACY_NPI, served=SERVED), switch_key)
    b1_answer = over_http(server, b1(padded), switch_key)
    assert outcome(e1)[0] == "A"
    assert outcome(b1_answer)[0] == "P", outcome(b1_answer)


def test_a_duplicate_answers_the_originals_amounts_and_fe_not_todays(
    server: Server, switch_key: str
) -> None:
    cardholder = member(server)
    original = over_http(server, b1(cardholder, rx="31415", owed=150_000), switch_key)
    assert outcome(over_http(server, b1(cardholder, owed=100_000), switch_key))[0] == "P"
    again = over_tcp(server, b1(cardholder, rx="31415", owed=150_000))
    assert outcome(again) == ("D", [])
    assert pricing_of(again) == pricing_of(original)
    assert (pricing_of(again) or {})["FE"] == 1_050_000  # as it was, not today's 950000
    assert status_of(again).every("FQ") == status_of(original).every("FQ")


def test_rule_rejects_carry_their_plain_reasons_and_the_benefit_only_when_known(
    server: Server, switch_key: str
) -> None:
    outside = server.cli("pharmacies", "add", "--npi", random_npi(), "--name", "Corner",
                         "--chain", "corner_drugstore")  # fmt: skip
    cardholder = member(server)
    for _ in range(8):
        assert outcome(over_http(server, b1(cardholder), switch_key))[0] == "P"

    at_cap = over_http(server, b1(cardholder), switch_key)
    assert outcome(at_cap) == ("R", ["76"])
    shown = [c for c in claims_of(server, cardholder) if c["status"] == "rejected"]
    assert [r["message"] for r in shown[0]["reject_codes"]] == ["Plan Limitations Exceeded"]
    assert status_of(at_cap).every("FQ") == ["BENEFIT REMAINING 0.00", "Plan Limitations Exceeded"]
    assert pricing_of(at_cap) is None and status_of(at_cap).first("F3") is None

    out_of_network = over_http(server, b1(cardholder, npi=outside["npi"]), switch_key)
    assert outcome(out_of_network) == ("R", ["40"])
    assert not any("BENEFIT" in line for line in status_of(out_of_network).every("FQ"))

    wrong_birth = over_http(server, b1(cardholder, birth="20100101"), switch_key)
    assert outcome(wrong_birth)[1][:1] == ["09"]
    assert not any("BENEFIT" in line for line in status_of(wrong_birth).every("FQ"))


def test_a_d0_claim_a_reviewer_approves_is_then_answered_d_with_the_approved_amounts(
    server: Server, switch_key: str
) -> None:
    young = str(enroll(server, state="NY", date_of_birth="2025-06-01")["cardholder_id"])
    body = b1(young, birth="20250601")
    answer = over_http(server, body, switch_key)
    assert outcome(answer) == ("R", ["60"])  # under the minimum age: a reviewable rule
    [stored] = claims_of(server, young)
    assert stored["review"]["state"] == "open"

    approved = server.call(
        "POST",
        f"/v1/claims/{stored['claim_id']}/review",
        REVIEWER_TOKEN,
        json={"action": "approve", "note": "growth failure confirmed"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "paid"

    again = over_tcp(server, body)
    assert outcome(again) == ("D", [])
    assert status_of(again).first("F3") == approved.json()["authorization_number"]
    amounts = pricing_of(again)
    assert amounts is not None
    assert amounts["F9"] == 150_000 and amounts["FE"] == 1_050_000


def test_an_e1_for_an_ineligible_member_names_the_rule_and_still_gives_the_year(
    server: Server, switch_key: str
) -> None:
    enrolled = enroll(server, state="NY", coverage_type="medicaid")
    assert enrolled["status"] == "ineligible"
    answer = over_http(
        server, eligibility(enrolled["cardholder_id"], DEMO_PHARMACY_NPI, served=SERVED), switch_key
    )
    assert outcome(answer) == ("R", ["65"])
    assert status_of(answer).every("FQ")[:2] == [
        "BENEFIT PERIOD 20260101-20261231",
        "BENEFIT REMAINING 12000.00",
    ]
    before_the_year = over_http(
        server,
        eligibility(enrolled["cardholder_id"], DEMO_PHARMACY_NPI, served="20251201"),
        switch_key,
    )
    assert outcome(before_the_year)[0] == "R"
    assert not any("BENEFIT" in line for line in status_of(before_the_year).every("FQ"))


def test_a_b2_reads_only_its_key_a_group_id_is_not_checked_and_bad_keys_are_16_17(
    server: Server, switch_key: str
) -> None:
    cardholder, rx = member(server), digits_rx()
    assert outcome(over_http(server, b1(cardholder, rx=rx), switch_key))[0] == "P"
    key = reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=rx)
    for bad, code in ((("07", "D3", "100"), "17"), (("07", "EM", "2"), "16")):
        assert outcome(over_http(server, altered(key, *bad), switch_key)) == ("R", [code])
    assert used(server, cardholder) == "1500.00"
    with_group = altered(key, "04", "C1", "OTHERGROUP")
    assert outcome(over_http(server, with_group, switch_key)) == ("A", [])
    assert used(server, cardholder) == "0.00"
