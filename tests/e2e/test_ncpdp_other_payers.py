"""AM05 with repeated fields (several other payers, several 351-NP/352-NQ pairs and 472-6E
codes), written with our codec since dzero-python keeps only a field's last copy: the
patient responsibility and other payer BIN NCPDP.md says the claim takes, checked by the
decision a JSON claim with that content gets."""

from __future__ import annotations

import random
from typing import Any

import pytest

from adjudicator.ncpdp import codec
from adjudicator.ncpdp.amounts import write_amount
from tests.e2e.conftest import Server
from tests.e2e.d0_helpers import SERVED, cents, outcome, over_http, pricing_of
from tests.e2e.helpers import DEMO_PHARMACY_NPI, claim_payload, enroll, submit
from tests.ncpdp_builders import billing

pytestmark = pytest.mark.e2e


def payer(
    kind: str,
    payer_bin: str | None = None,
    rejects: tuple[str, ...] = (),
    owed: tuple[tuple[str, int], ...] = (),
) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = [("5C", kind)]
    if payer_bin is not None:
        fields += [("6C", "03"), ("7C", payer_bin)]
    if rejects:
        fields += [("5E", str(len(rejects)))] + [("6E", code) for code in rejects]
    if owed:
        fields.append(("NR", str(len(owed))))
        for qualifier, amount in owed:
            fields += [("NP", qualifier), ("NQ", write_amount(amount))]
    return tuple(fields)


def with_payers(body: bytes, *payers: tuple[tuple[str, str], ...], due: int = 999_900) -> bytes:
    """`body` (one B1 group) with AM05 replaced by these payers, and 430-DU set to `due`."""
    sent = codec.parse_request(body.decode("ascii"))
    [group] = sent.groups
    cob = codec.Segment("05", (("4C", str(len(payers))), *(f for p in payers for f in p)))
    segments = [s for s in group.segments if s.id not in ("05", "11")]
    segments += [cob, codec.Segment("11", (("DU", write_amount(due)),))]
    changed = codec.Transmission(sent.header, sent.transmission, (codec.Group(tuple(segments)),))
    return codec.write_request(changed).encode("ascii")


def d0_and_json(
    server: Server,
    switch_key: str,
    coverage: str,
    payers: list[Any],
    cob: dict[str, Any],
    drug: str,
) -> tuple[bytes, dict[str, Any]]:
    """The D.0 answer for one member and the JSON decision of the claim NCPDP.md says it
    becomes (for another member, another Rx: neither is a duplicate of the other)."""
    by_d0, by_json = (str(enroll(server, state="NY")["cardholder_id"]) for _ in range(2))
    body = billing(by_d0, DEMO_PHARMACY_NPI, served=SERVED, rx=str(random.randint(1, 10**11)),
                   coverage=coverage)  # fmt: skip
    answer = over_http(server, with_payers(body, *payers), switch_key)
    decision = submit(server, claim_payload(by_json, drug=drug, cob=cob))
    return answer, decision


def assert_same(answer: bytes, decision: dict[str, Any]) -> None:
    status, codes = outcome(answer)
    assert codes == [r["code"] for r in decision["reject_codes"]]
    assert status == {"paid": "P", "rejected": "R"}[decision["status"]]
    amounts = pricing_of(answer)
    if decision["status"] == "paid":
        assert amounts is not None
        assert amounts["F9"] == cents(decision["amounts"]["program_paid"])
        assert amounts["F5"] == cents(decision["amounts"]["patient_pay"])


def test_code_8_takes_the_first_payers_patient_pay_amount_and_its_bin(
    server: Server, switch_key: str
) -> None:
    answer, decision = d0_and_json(
        server,
        switch_key,
        "8",
        [
            payer("01", "003858", owed=(("07", 20_000), ("06", 50_000), ("08", 1_000))),
            payer("02", "610014", owed=(("06", 99_999),)),  # later payers are not read
        ],
        {"other_coverage_code": 8, "other_payer_bin": "003858"},
        "500.00",
    )
    assert decision["amounts"]["program_paid"] == "500.00"
    assert_same(answer, decision)


def test_code_8_sums_the_first_payers_amounts_when_none_is_a_patient_pay_amount(
    server: Server, switch_key: str
) -> None:
    answer, decision = d0_and_json(
        server,
        switch_key,
        "8",
        [
            payer("01", "003858"),  # sends no amounts: the next payer that does is read
            payer("02", "004336", owed=(("07", 20_000), ("08", 30_000))),
        ],
        {"other_coverage_code": 8, "other_payer_bin": "003858"},
        "500.00",
    )
    assert_same(answer, decision)


def test_code_8_without_the_first_payers_bin_is_13_as_in_json(
    server: Server, switch_key: str
) -> None:
    answer, decision = d0_and_json(
        server,
        switch_key,
        "8",
        [payer("01", owed=(("06", 50_000),)), payer("02", "003858")],
        {"other_coverage_code": 8},
        "500.00",
    )
    assert decision["status"] == "rejected"
    assert_same(answer, decision)
    assert outcome(answer) == ("R", ["13"])


def test_code_3_reads_the_reject_codes_of_every_payer_in_order(
    server: Server, switch_key: str
) -> None:
    answer, decision = d0_and_json(
        server,
        switch_key,
        "3",
        [payer("01", "003858", rejects=("75",)), payer("02", "004336", rejects=("70", "M1"))],
        {
            "other_coverage_code": 3,
            "other_payer_bin": "003858",
            "other_payer_reject_codes": ["75", "70", "M1"],
        },  # fmt: skip
        "9999.00",
    )
    assert decision["status"] == "paid" and decision["cash_pay"] is True  # 70: product
    assert_same(answer, decision)
    held = pricing_of(answer)
    assert held is not None and held["FK"] == cents("8999.00")  # the $1,000 per-Rx max
