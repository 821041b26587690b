"""Reading D.0 requests (adjudicator/ncpdp/requests.py): the header's codes in order, the
B1 table's M/I codes, patient responsibility by other coverage code, and any JSON claim
D.0 can carry read back as the same claim."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adjudicator.domain.terms import Routing
from adjudicator.ncpdp import codec
from adjudicator.ncpdp.encode import encode_claim
from adjudicator.ncpdp.requests import FieldRejects, header_rejects, read_billing, read_key
from schemas.claims import ClaimRequestSchema
from tests.examples import CLAIM

pytestmark = pytest.mark.unit

ROUTING = Routing("999999", "IPSENCARES", "IPSENCARES")
TODAY = date(2026, 12, 6)
SCHEMA = ClaimRequestSchema()


def _d0_claim(**overrides: object) -> dict:
    """The API.md example claim as D.0 can carry it: digits for the Rx, its drug line only."""
    claim = copy.deepcopy(CLAIM)
    claim.update(rx_number="1001", lines=[claim["lines"][0]])
    del claim["diagnosis_code"]
    claim["cob"].pop("other_payer_pcn")  # D.0 carries no other payer PCN
    claim.update(overrides)
    return claim


def _read(text: str) -> dict | FieldRejects:
    request = codec.parse_request(text)
    return read_billing(request, request.groups[0], ROUTING)


def _codes(text: str) -> tuple[str, ...]:
    read = _read(text)
    assert isinstance(read, FieldRejects), read
    return read.codes


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_the_example_claim_reads_back_as_itself():
    claim = _d0_claim()
    assert SCHEMA.load(_read(encode_claim(claim))) == SCHEMA.load(claim)


def test_every_header_code_in_order():
    text = encode_claim(_d0_claim(), bin="123456", pcn="OTHER")
    request = codec.parse_request(_replace(text, "D0B1", "D1X9"))
    request.header.update(count="5", qualifier="07", date_of_service="20261301")
    codes = header_rejects(request, ROUTING, pharmacy_registered=False, today=TODAY)
    assert codes == ["02", "03", "01", "04", "A9", "05", "15"]


def test_a_good_header_has_no_code_and_a_future_date_is_15():
    request = codec.parse_request(encode_claim(_d0_claim()))
    assert header_rejects(request, ROUTING, pharmacy_registered=True, today=TODAY) == []
    request.header["date_of_service"] = "20261207"
    assert header_rejects(request, ROUTING, pharmacy_registered=True, today=TODAY) == ["15"]


def test_the_count_must_match_the_groups_and_e1_has_one():
    request = codec.parse_request(encode_claim(_d0_claim()) + codec.GS)
    assert "A9" in header_rejects(request, ROUTING, pharmacy_registered=True, today=TODAY)
    request.header.update(count="2", transaction_code="E1")
    assert "A9" in header_rejects(request, ROUTING, pharmacy_registered=True, today=TODAY)
    request.header["transaction_code"] = "B1"
    assert header_rejects(request, ROUTING, pharmacy_registered=True, today=TODAY) == []


def test_a_group_id_that_differs_is_06_and_a_medicaid_indicator_65():
    text = _replace(encode_claim(_d0_claim()), "C1IPSENCARES", "C1OTHER\x1c2BNY")
    assert _codes(text) == ("06", "65")


def test_fields_missing_or_invalid_answer_their_codes_in_table_order_five_at_most():
    text = encode_claim(_d0_claim())
    for old, new in [
        ("D21001", "D2RX1"),
        ("D30", "D3100"),
        ("D715054104005", "D71505"),
        ("E70000008000", "E70000000000"),
        ("D530", "D5366"),
        ("C8", "C8X"),
    ]:
        text = _replace(text, old, new)  # fmt: skip
    assert _codes(text) == ("16", "17", "21", "E7", "19")


def test_rx_numbers_lose_their_leading_zeros_and_zero_stays_zero():
    for sent, kept in [("0001001", "1001"), ("000", "0"), ("123456789012", "123456789012")]:
        read = _read(_replace(encode_claim(_d0_claim()), "D21001", f"D2{sent}"))
        assert not isinstance(read, FieldRejects) and read["rx_number"] == kept
    assert _codes(_replace(encode_claim(_d0_claim()), "D21001", "D21234567890123")) == ("16",)


def test_code_8_takes_the_first_payers_patient_pay_amount_and_bin():
    payers = (
        ("4C", "2"), ("5C", "01"), ("6C", "03"), ("7C", "610014"), ("NR", "2"),
        ("NP", "05"), ("NQ", "1000{"), ("NP", "06"), ("NQ", "2000{"),
        ("5C", "02"), ("6C", "03"), ("7C", "003858"), ("NP", "06"), ("NQ", "9000{"),
    )  # fmt: skip
    request = codec.parse_request(encode_claim(_d0_claim()))
    group = request.groups[0]
    others = tuple(s for s in group.segments if s.id != "05")
    request_with = codec.Transmission(
        request.header,
        request.transmission,
        (codec.Group((*others, codec.Segment("05", payers))),),
    )
    read = read_billing(request_with, request_with.groups[0], ROUTING)
    assert not isinstance(read, FieldRejects)
    assert read["lines"][0]["patient_responsibility"] == "200.00"
    assert read["cob"]["other_payer_bin"] == "610014"


def test_code_8_without_an_amount_is_nq_and_a_count_that_disagrees_is_4c():
    text = encode_claim(_d0_claim())
    assert _codes(_replace(text, "4C1", "4C2")) == ("4C",)
    no_amount = text.replace("\x1cNP06", "").replace("\x1cNQ15000{", "")
    assert _codes(no_amount) == ("NQ",)


def test_a_patient_responsibility_amount_over_999999_99_is_nq_not_du():
    text = encode_claim(_d0_claim())
    assert _codes(_replace(text, "NQ15000{", "NQ999999999")) == ("NQ",)
    assert not isinstance(_read(_replace(text, "NQ15000{", "NQ99999999")), FieldRejects)


def test_a_b2_reads_its_rx_and_fill():
    request = codec.parse_request(encode_claim(_d0_claim(fill_number=3)))
    assert read_key(request.groups[0]) == ("1001", 3)


drug_amounts = st.integers(0, 99_999_999)
rx_numbers = st.from_regex(r"0|[1-9][0-9]{0,11}", fullmatch=True)  # as D.0 reads them back


@given(
    rx=rx_numbers,
    fill=st.integers(0, 99),
    cents=drug_amounts,
    days=st.integers(1, 365),
    thousandths=st.integers(1, 9_999_999),
    coverage=st.sampled_from([None, 1, 3, 8]),
    born=st.none() | st.dates(date(1920, 1, 1), date(2026, 1, 1)),
)
def test_any_claim_d0_can_carry_reads_back_as_the_same_claim(
    rx, fill, cents, days, thousandths, coverage, born
):
    claim = _d0_claim(rx_number=rx, fill_number=fill)
    line = claim["lines"][0]
    line.update(
        patient_responsibility=f"{cents // 100}.{cents % 100:02d}",
        days_supply=days,
        quantity=f"{thousandths // 1000}.{thousandths % 1000:03d}",
    )
    if coverage is None:
        del claim["cob"]
    else:
        claim["cob"]["other_coverage_code"] = coverage
        claim["cob"]["other_payer_reject_codes"] = ["70"] if coverage == 3 else []
    if born is None:
        del claim["patient"]
    else:
        claim["patient"] = {"date_of_birth": born.isoformat()}
    expected = SCHEMA.load(claim)
    read = _read(encode_claim(claim))
    assert not isinstance(read, FieldRejects), read
    assert SCHEMA.load(read) == expected


def test_a_cardholder_id_padded_with_spaces_is_read_without_them_as_e1_reads_it():
    text = encode_claim(_d0_claim(cardholder_id="IC0000000001"))
    read = _read(_replace(text, "C2IC0000000001", "C2IC0000000001   "))
    assert isinstance(read, dict) and read["cardholder_id"] == "IC0000000001"
