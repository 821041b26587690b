"""`encode_claim` and the `ncpdp encode` / `ncpdp decode` commands, in process."""

from __future__ import annotations

import copy
import json

import pytest

from adjudicator.cli import _parser
from adjudicator.ncpdp.amounts import read_amount, read_quantity
from adjudicator.ncpdp.codec import FS, GS, RS, parse_request
from adjudicator.ncpdp.commands import decode, from_readable, readable
from adjudicator.ncpdp.encode import encode_claim
from tests.examples import CLAIM

pytestmark = pytest.mark.unit


def a_claim(**changes):
    """API.md's claim with a digits-only Rx number and its drug line alone."""
    claim = copy.deepcopy(CLAIM)
    claim["rx_number"] = "1001"
    claim["lines"] = claim["lines"][:1]
    claim.update(changes)
    return claim


def test_the_example_claim_becomes_the_b1_ncpdp_md_reads():
    parsed = parse_request(encode_claim(a_claim()))

    assert parsed.header == {
        "bin": "999999", "version": "D0", "transaction_code": "B1", "pcn": "IPSENCARES",
        "count": "1", "qualifier": "01", "provider_id": "1234567893     ",
        "date_of_service": "20260301", "software": " " * 10,
    }  # fmt: skip
    insurance = parsed.transmission.segment("04")
    patient = parsed.transmission.segment("01")
    assert insurance is not None and patient is not None
    assert insurance.fields == (("C2", "C-0001"), ("C1", "IPSENCARES"))
    assert patient.fields == (("C4", "20150402"),)
    (group,) = parsed.groups
    claim, prescriber, cob, pricing = (group.segment(s) for s in ("07", "03", "05", "11"))
    assert claim is not None and prescriber is not None and cob is not None
    assert pricing is not None
    assert dict(claim.fields) == {
        "EM": "1", "D2": "1001", "D3": "0", "E1": "03", "D7": "15054104005",
        "E7": "0000008000", "D5": "30", "C8": "8",
    }  # fmt: skip
    assert read_quantity(claim.first("E7") or "") == "8.000"
    assert prescriber.fields == (("EZ", "01"), ("DB", "1245319599"))
    assert cob.fields == (
        ("4C", "1"), ("5C", "01"), ("6C", "03"), ("7C", "003858"),
        ("NR", "1"), ("NP", "06"), ("NQ", "15000{"),
    )  # fmt: skip
    assert read_amount(pricing.first("DU") or "") == 150000


def test_the_optional_parts_are_left_out_when_absent():
    claim = a_claim()
    for key in ("group_id", "patient", "prescriber_npi", "cob"):
        del claim[key]

    parsed = parse_request(encode_claim(claim))

    assert [s.id for s in parsed.transmission.segments] == ["04"]
    assert [s.id for s in parsed.groups[0].segments] == ["07", "11"]
    claim_segment = parsed.groups[0].segment("07")
    assert claim_segment is not None and claim_segment.first("C8") is None


def test_code_3_carries_the_other_payers_reject_codes_and_no_patient_pay():
    cob = {"other_coverage_code": 3, "other_payer_bin": "003858",
           "other_payer_reject_codes": ["70", "MR"]}  # fmt: skip

    parsed = parse_request(encode_claim(a_claim(cob=cob)))

    segment = parsed.groups[0].segment("05")
    assert segment is not None
    assert segment.every("6E") == ["70", "MR"] and segment.first("5E") == "2"
    assert segment.first("NQ") is None


def test_code_1_in_a_cob_sends_c8_alone():
    parsed = parse_request(encode_claim(a_claim(cob={"other_coverage_code": 1})))

    assert parsed.groups[0].segment("05") is None
    claim_segment = parsed.groups[0].segment("07")
    assert claim_segment is not None and claim_segment.first("C8") == "1"


def test_leading_zeros_of_a_digits_only_rx_number_are_kept_as_sent():
    claim_segment = (
        parse_request(encode_claim(a_claim(rx_number="0001001"))).groups[0].segment("07")
    )
    assert claim_segment is not None and claim_segment.first("D2") == "0001001"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rx_number": "RX1001"}, "402-D2 carries digits only"),
        ({"rx_number": "1234567890123"}, "402-D2 carries digits only"),
        ({"rx_number": "١٠٠١"}, "402-D2 carries digits only"),
        ({"lines": CLAIM["lines"]}, "lines.1 is a service line: D.0 claims have no service line"),
        ({"lines": []}, "one drug line"),
        ({"lines": [CLAIM["lines"][0]] * 2}, "one drug line"),
        ({"cardholder_id": ""}, "cardholder_id is required"),
        ({"cardholder_id": "C\x1c1"}, "AM04 C2"),
        ({"date_of_service": "03/01/2026"}, "date_of_service"),
        ({"fill_number": 100}, "fill_number"),
        ({"service_provider_id": "1" * 16}, "provider_id"),
        ({"lines": [{**CLAIM["lines"][0], "quantity": "8.0001"}]}, "quantity"),
        ({"lines": [{**CLAIM["lines"][0], "patient_responsibility": 1500}]}, "patient_resp"),
    ],
)
def test_what_d0_cannot_carry_is_refused_clearly(changes, message):
    with pytest.raises(ValueError, match=message):
        encode_claim(a_claim(**changes))


def test_hyphenated_ndcs_are_sent_as_11_digits():
    line = {**CLAIM["lines"][0], "code": "15054-1040-05"}
    parsed = parse_request(encode_claim(a_claim(lines=[line])))
    claim_segment = parsed.groups[0].segment("07")
    assert claim_segment is not None and claim_segment.first("D7") == "15054104005"


def test_readable_shows_the_separators_and_reads_back():
    raw = encode_claim(a_claim())

    shown = readable(raw)

    assert FS not in shown and GS not in shown and RS not in shown
    assert "<RS><FS>AM07<FS>EM1" in shown and "\n<GS>" in shown
    assert from_readable(shown) == raw
    assert from_readable(raw) == raw


def test_decode_shows_header_then_every_field_in_order_with_names():
    decoded = decode(encode_claim(a_claim()))

    assert decoded["type"] == "request"
    assert decoded["header"]["pcn"] == "IPSENCARES"
    cob = decoded["groups"][0]["segments"][2]
    assert cob["segment"] == "AM05"
    assert ["NP", "06"] in cob["fields"]
    assert cob["names"]["NQ"] == "352-NQ other payer-patient responsibility amount"


def run(capsys, *argv):
    """A command's handler, as `adjudicator` would call it (without its data-dir setup)."""
    args = _parser().parse_args(list(argv))
    status = args.handler(args)
    out, err = capsys.readouterr()
    return status, out, err


def test_encode_then_decode_commands(capsys, tmp_path, monkeypatch):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(a_claim()))

    status, raw, _ = run(capsys, "ncpdp", "encode", str(path))
    assert status == 0 and raw == encode_claim(a_claim())
    (tmp_path / "claim.d0").write_text(raw)
    status, out, _ = run(capsys, "ncpdp", "decode", str(tmp_path / "claim.d0"))

    assert status == 0
    decoded = json.loads(out)
    assert decoded["groups"][0]["segments"][0]["fields"][1] == ["D2", "1001"]


def test_the_commands_explain_what_they_refuse(capsys, tmp_path):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(CLAIM))
    status, out, err = run(capsys, "ncpdp", "encode", str(path))
    assert status == 2 and out == ""
    assert "service line" in err

    (tmp_path / "short.d0").write_text("999999D0B1")
    status, out, err = run(capsys, "ncpdp", "decode", str(tmp_path / "short.d0"))
    assert status == 2 and "56 characters" in err


def test_decode_reads_a_response_too():
    response = "D0B11A011234567893     20260301" + RS + FS + "AM20" + FS + "F4HI" + GS
    decoded = decode(response)
    assert decoded["type"] == "response"
    assert decoded["header"]["status"] == "A"
    assert decoded["transmission"]["segments"][0]["fields"] == [["F4", "HI"]]
    assert decoded["groups"] == [{"segments": []}]
