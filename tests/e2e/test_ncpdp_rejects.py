"""Every reject path of NCPDP.md against a real `adjudicator run`: the header's codes alone
and in their order, each M/I code of the B1 table, B2 and B3 without a paid claim, a B3
whose content rejects, the HTTP door's 400/401/403/413, and an E1 outside the network;
after each, the member's claims (as the JSON API lists them) and Redis accumulator are
exactly as before. Over HTTP, and a representative subset over TCP."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Server
from tests.e2e.d0_helpers import (
    SERVED,
    altered,
    claim,
    d0_connection,
    ledger_state,
    lines,
    ours,
    outcome,
    over_http,
    over_tcp,
    post_d0,
    pricing_of,
)
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    DEMO_PHARMACY_NPI,
    REVIEWER_TOKEN,
    claims_of,
    enroll,
    new_pharmacy,
    random_npi,
)
from tests.ncpdp_builders import billing, eligibility, reversal

pytestmark = pytest.mark.e2e

HEADER_CODES = ["02", "03", "01", "04", "A9", "05", "15"]


def digits_rx() -> str:
    return str(random.randint(10**8, 10**11))


@pytest.fixture(scope="module")
def paid_member(server: Server, switch_key: str) -> str:
    """A member with one paid D.0 claim, so that there is something to leave unchanged."""
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    answer = over_http(server, b1(cardholder), switch_key)
    assert outcome(answer) == ("P", [])
    return cardholder


def b1(cardholder: str, **kwargs: Any) -> bytes:
    kwargs.setdefault("rx", digits_rx())
    return billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, **kwargs)


def unchanged_after(server: Server, cardholder: str, send: Callable[[], bytes]) -> bytes:
    """Send; assert the member's claims and accumulator did not change. The answer."""
    before = ledger_state(server, [cardholder])
    answer = send()
    assert ledger_state(server, [cardholder]) == before
    return answer


# --- header rejects ----------------------------------------------------------------------

HEADER_CASES = {
    "02": {"version": "D1"},
    "03": {"transaction_code": "X9"},
    "01": {"bin": "123456"},
    "04": {"pcn": "OTHERPCN"},
    "A9": {"count": "2"},
    "05": {"qualifier": "05"},
    "15": {"date_of_service": "20991231"},
}


@pytest.mark.parametrize("code", HEADER_CASES)
def test_each_header_problem_rejects_the_transmission_with_its_code_alone(
    server: Server, switch_key: str, paid_member: str, code: str
) -> None:
    body = b1(paid_member, header_overrides=HEADER_CASES[code])
    answer = unchanged_after(server, paid_member, lambda: over_http(server, body, switch_key))
    assert ours(answer).header["status"] == "R"
    assert ours(answer).header["count"] == "1"
    assert outcome(answer) == ("R", [code])
    assert pricing_of(answer) is None


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"provider_id": random_npi()}, "05"),  # an NPI no pharmacy is registered under
        ({"date_of_service": "2026AB01"}, "15"),  # unreadable
        ({"date_of_service": "20260230"}, "15"),  # no such day
        ({"count": "5"}, "A9"),  # more than 4
        ({"count": "0"}, "A9"),
    ],
)
def test_other_header_problems_answer_their_codes(
    server: Server, switch_key: str, paid_member: str, overrides: dict[str, str], code: str
) -> None:
    body = b1(paid_member, header_overrides=overrides)
    answer = unchanged_after(server, paid_member, lambda: over_http(server, body, switch_key))
    assert outcome(answer) == ("R", [code])
    assert ours(answer).header["provider_id"] == overrides.get(
        "provider_id", DEMO_PHARMACY_NPI
    ).ljust(15)


def test_an_e1_with_more_than_one_transaction_group_is_a9(
    server: Server, switch_key: str, paid_member: str
) -> None:
    body = eligibility(paid_member, DEMO_PHARMACY_NPI, served=SERVED) + b"\x1d"
    body = body[:20] + b"2" + body[21:]  # the count agrees with the two groups: still A9
    assert outcome(over_http(server, body, switch_key)) == ("R", ["A9"])


def test_every_header_code_at_once_comes_in_ncpdp_md_order_over_both_doors(
    server: Server, switch_key: str, paid_member: str
) -> None:
    every = {
        "version": "D1",
        "transaction_code": "X9",
        "bin": "123456",
        "pcn": "OTHERPCN",
        "count": "5",
        "qualifier": "05",
        "date_of_service": "20991231",
    }
    body = b1(paid_member, header_overrides=every)
    for send in (lambda: over_http(server, body, switch_key), lambda: over_tcp(server, body)):
        answer = unchanged_after(server, paid_member, send)
        assert ours(answer).header["status"] == "R"
        assert outcome(answer) == ("R", HEADER_CODES)
        # the header echoes what was sent: the transaction code, qualifier, id, date
        header = ours(answer).header
        assert (header["transaction_code"], header["qualifier"]) == ("X9", "05")
        assert header["date_of_service"] == "20991231"


# --- field rejects of a B1 -----------------------------------------------------------------

FIELD_CASES: list[tuple[str, str, str, str | None, str]] = [
    # (case, segment, field, value or None to remove it, M/I code)
    ("cardholder missing", "04", "C2", None, "07"),
    ("cardholder blank", "04", "C2", "   ", "07"),
    ("group of another card", "04", "C1", "OTHERGROUP", "06"),
    ("Medicaid indicator", "04", "2B", "NY", "65"),
    ("Medigap id", "04", "2A", "MG123", "65"),
    ("birth date unreadable", "01", "C4", "20151340", "09"),
    ("Rx number with letters", "07", "D2", "RX1001", "16"),
    ("Rx number of 13 digits", "07", "D2", "1234567890123", "16"),
    ("Rx qualifier not 1", "07", "EM", "2", "16"),
    ("fill number 100", "07", "D3", "100", "17"),
    ("fill number missing", "07", "D3", None, "17"),
    ("NDC of 10 digits", "07", "D7", "1505410400", "21"),
    ("product qualifier not 03", "07", "E1", "01", "21"),
    ("quantity zero", "07", "E7", "0000000000", "E7"),
    ("quantity missing", "07", "E7", None, "E7"),
    ("days supply 0", "07", "D5", "0", "19"),
    ("days supply 366", "07", "D5", "366", "19"),
    ("other coverage code a letter", "07", "C8", "X", "13"),
    ("other coverage code 100", "07", "C8", "100", "13"),
    ("payer count disagrees", "05", "4C", "2", "4C"),
    ("other payer BIN of 5 digits", "05", "7C", "12345", "7C"),
    ("other payer reject code of 4", "05", "6E", "ABCD", "6E"),
    ("patient responsibility negative", "05", "NQ", "1000}", "NQ"),
    ("patient responsibility unreadable", "05", "NQ", "12.50", "NQ"),
    ("patient responsibility over 999999.99", "05", "NQ", "9999999999", "NQ"),
    ("code 8 with no NQ", "05", "NQ", None, "NQ"),
    ("prescriber NPI check digit", "03", "EZ", "01", "25"),
]


@pytest.mark.parametrize(
    ("segment", "field", "value", "code"),
    [case[1:] for case in FIELD_CASES],
    ids=[case[0] for case in FIELD_CASES],
)
def test_each_missing_or_invalid_b1_field_answers_its_code_and_stores_nothing(
    server: Server,
    switch_key: str,
    paid_member: str,
    segment: str,
    field: str,
    value: str | None,
    code: str,
) -> None:
    body = b1(paid_member, birth="20150402")
    if code == "25":
        body = altered(body, "03", "EZ", "01")
        body = altered(body, "03", "DB", "1245319598")  # the check digit is 9
    else:
        body = altered(body, segment, field, value)
    answer = unchanged_after(server, paid_member, lambda: over_http(server, body, switch_key))
    assert ours(answer).header["status"] == "A"  # the header was fine: the group rejects
    assert outcome(answer) == ("R", [code])
    assert pricing_of(answer) is None
    assert lines(answer)  # the plain reason
    assert not any(line.startswith("BENEFIT") for line in lines(answer))


@pytest.mark.parametrize(
    ("coverage", "due"),
    [("1", None), ("1", "-"), ("1", "1000}"), ("3", "100000000"), (None, "15.00")],
    ids=["missing", "a sign", "negative", "over 999999.99", "a decimal point"],
)
def test_a_gross_amount_due_missing_or_invalid_without_code_8_is_du(
    server: Server, switch_key: str, paid_member: str, coverage: str | None, due: str | None
) -> None:
    body = altered(b1(paid_member, coverage=coverage), "11", "DU", due)
    answer = unchanged_after(server, paid_member, lambda: over_http(server, body, switch_key))
    assert outcome(answer) == ("R", ["DU"])


def test_many_bad_fields_answer_the_first_five_codes_in_table_order(
    server: Server, switch_key: str, paid_member: str
) -> None:
    body = b1(paid_member, birth="20151340")  # 09
    for segment, field, value in [
        ("07", "D5", "0"),  # 19
        ("07", "D3", "100"),  # 17
        ("04", "C1", "OTHERGROUP"),  # 06
        ("07", "D2", "RX1"),  # 16
        ("04", "2B", "NY"),  # 65
        ("04", "C2", None),  # 07
    ]:
        body = altered(body, segment, field, value)
    answer = unchanged_after(server, paid_member, lambda: over_http(server, body, switch_key))
    assert outcome(answer) == ("R", ["07", "06", "65", "09", "16"])


def test_field_rejects_over_tcp_answer_the_same_and_store_nothing(
    server: Server, paid_member: str
) -> None:
    bodies = [
        altered(b1(paid_member), "07", "D5", "0"),
        altered(b1(paid_member), "04", "C2", None),
        altered(b1(paid_member), "05", "7C", "12345"),
    ]
    before = ledger_state(server, [paid_member])
    with d0_connection(server) as connection:
        for body in bodies:
            connection.send(body)
        answers = [connection.receive() for _ in bodies]
    assert [outcome(a) for a in answers] == [("R", ["19"]), ("R", ["07"]), ("R", ["7C"])]
    assert ledger_state(server, [paid_member]) == before


# --- B2 and B3 without a paid claim; a B3 whose content rejects ------------------------


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_b2_of_an_unknown_key_is_84_and_a_b3_with_no_paid_claim_is_84(
    server: Server, switch_key: str, paid_member: str, door: str
) -> None:
    def send(body: bytes) -> bytes:
        return over_http(server, body, switch_key) if door == "http" else over_tcp(server, body)

    rx = digits_rx()
    for body in (
        reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=rx),
        b1(paid_member, rx=rx, code="B3"),
    ):
        answer = unchanged_after(server, paid_member, lambda body=body: send(body))
        assert ours(answer).header["status"] == "A"
        assert outcome(answer) == ("R", ["84"])
        assert ours(answer).groups[0].segment("22") is not None
        assert ours(answer).groups[0].segment("22").first("D2") == rx  # type: ignore[union-attr]  # checked


def test_a_b3_after_the_claim_was_reversed_is_84(
    server: Server, switch_key: str, paid_member: str
) -> None:
    cardholder, rx = str(enroll(server, state="NY")["cardholder_id"]), digits_rx()
    assert outcome(over_http(server, b1(cardholder, rx=rx), switch_key))[0] == "P"
    reversed_now = over_http(server, reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=rx), switch_key)
    assert outcome(reversed_now) == ("A", [])
    body = b1(cardholder, rx=rx, code="B3", owed=90_000)
    answer = unchanged_after(server, cardholder, lambda: over_http(server, body, switch_key))
    assert outcome(answer) == ("R", ["84"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("07", "D7", "00002875001"), "70"),  # a product the program does not cover
        (("07", "D5", "0"), "19"),  # a field the mapping refuses
        (("01", "C4", "20100101"), "09"),  # the patient's birth date does not match
    ],
    ids=["rule reject", "field reject", "birth date mismatch"],
)
def test_a_b3_whose_content_rejects_keeps_the_old_claim_paid_and_changes_nothing(
    server: Server, switch_key: str, change: tuple[str, str, str], code: str
) -> None:
    cardholder, rx = str(enroll(server, state="NY")["cardholder_id"]), digits_rx()
    first = over_http(server, b1(cardholder, rx=rx, birth="20150402"), switch_key)
    assert outcome(first)[0] == "P"
    [old] = claims_of(server, cardholder)
    body = altered(b1(cardholder, rx=rx, birth="20150402", code="B3", owed=50_000), *change)
    answer = unchanged_after(server, cardholder, lambda: over_http(server, body, switch_key))
    assert ours(answer).header["status"] == "A"
    status, codes = outcome(answer)
    assert status == "R" and code in codes, codes
    assert pricing_of(answer) is None
    assert claim(server, old["claim_id"])["status"] == "paid"


# --- the HTTP door's own answers ----------------------------------------------------------


def test_a_pharmacy_key_billing_another_npi_is_403_and_stores_nothing(
    server: Server, paid_member: str, second_pharmacy: dict[str, Any]
) -> None:
    body = billing(paid_member, second_pharmacy["npi"], served=SERVED, rx=digits_rx())
    before = ledger_state(server, [paid_member])
    response = post_d0(server, body, DEMO_PHARMACY_KEY)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert ledger_state(server, [paid_member]) == before
    # its own key may
    assert outcome(over_http(server, body, second_pharmacy["api_key"]))[0] == "P"


@pytest.mark.parametrize(
    "body",
    [b"", b"999999D0B1", b1("IC0000000001")[:55], b"\xff" * 80, b1("IC0000000001") + b"\xe9"],
    ids=["empty", "short", "55 characters", "not ASCII", "a non-ASCII byte later"],
)
def test_an_unreadable_header_is_400_over_http_and_an_empty_frame_over_tcp(
    server: Server, switch_key: str, body: bytes
) -> None:
    response = post_d0(server, body, switch_key)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 400
    assert over_tcp(server, body) == b""


def test_the_http_door_needs_a_switch_or_pharmacy_and_at_most_64_kib(
    server: Server, switch_key: str
) -> None:
    body = b1("IC0000000001")
    assert post_d0(server, body, "").status_code == 401
    assert post_d0(server, body, "sk_not_a_key").status_code == 401
    assert post_d0(server, body, REVIEWER_TOKEN).status_code == 403
    assert post_d0(server, body, ADMIN_TOKEN).status_code == 403
    big = post_d0(server, body + b"X" * (64 * 1024), switch_key)
    assert big.status_code == 413
    assert big.headers["Content-Type"] == "application/problem+json"


def test_stx_and_etx_around_an_http_body_are_stripped(server: Server, switch_key: str) -> None:
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    answer = over_http(server, b"\x02" + b1(cardholder) + b"\x03", switch_key)
    assert outcome(answer) == ("P", [])


# --- E1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_an_e1_from_an_out_of_network_pharmacy_is_40_alone_without_benefit_lines(
    server: Server, switch_key: str, paid_member: str, door: str
) -> None:
    outside = new_pharmacy(server, chain="corner_drugstore")
    body = eligibility(paid_member, outside["npi"], served=SERVED)
    if door == "http":
        answer = unchanged_after(server, paid_member, lambda: over_http(server, body, switch_key))
    else:
        answer = unchanged_after(server, paid_member, lambda: over_tcp(server, body))
    assert ours(answer).header["status"] == "A"
    assert outcome(answer) == ("R", ["40"])
    assert not any("BENEFIT" in line for line in lines(answer)), lines(answer)


def test_an_e1_without_a_cardholder_is_07_and_with_an_unreadable_birth_date_09(
    server: Server, switch_key: str, paid_member: str
) -> None:
    no_cardholder = altered(
        eligibility(paid_member, DEMO_PHARMACY_NPI, served=SERVED), "04", "C2", None
    )
    bad_birth = eligibility(paid_member, DEMO_PHARMACY_NPI, served=SERVED, birth="20151340")
    assert outcome(over_http(server, no_cardholder, switch_key)) == ("R", ["07"])
    answer = over_http(server, bad_birth, switch_key)
    assert outcome(answer) == ("R", ["09"])
    assert not any("BENEFIT" in line for line in lines(answer))


def test_an_e1_for_an_unknown_cardholder_is_rejected_without_benefit_lines(
    server: Server, switch_key: str
) -> None:
    answer = over_http(
        server, eligibility("IC0000000000", DEMO_PHARMACY_NPI, served=SERVED), switch_key
    )
    status, codes = outcome(answer)
    assert status == "R" and codes, codes
    assert not any("BENEFIT" in line for line in lines(answer))
