"""The D.0 door's use case (services/ncpdp.answer) on the real ledger and Redis, with the
worker's task run in a thread as Celery would: B1, B2, B3, the header's and the fields'
rejects, and the 85 of a transaction nobody decided in time."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adjudicator.config import Config
from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.services import claim_queries, identity, intake, money, ncpdp
from adjudicator.services.errors import Forbidden
from adjudicator.services.identity import Principal
from adjudicator.services.runtime import Runtime
from adjudicator.wiring import build_runtime
from tasks.claims import decide_and_announce
from tests.integration.builders import claim_payload, enroll, load_claim, pharmacy
from tests.ledgers import forget_accumulators
from tests.ncpdp_builders import (
    billing,
    eligibility,
    messages,
    parsed,
    pricing,
    reversal,
    status,
)

pytestmark = pytest.mark.integration

SWITCH = Principal("switch", "test-switch")


def _runtime(url: str, redis_url: str, tmp_path: Path, enqueue: Callable[[str], None]) -> Runtime:
    config = Config(data_dir=tmp_path, database_url=url, redis_url=redis_url, sync_timeout=5.0)
    return build_runtime(config, enqueue=enqueue, send_job=lambda job_id: None)


@pytest.fixture(name="d0")
def d0_fixture(private_ledger_url: str, redis_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose published claims are decided by the worker's task in a thread."""
    holder: list[Runtime] = []

    def enqueue(claim_id: str) -> None:
        threading.Thread(target=decide_and_announce, args=(holder[0], claim_id)).start()

    rt = _runtime(private_ledger_url, redis_url, tmp_path, enqueue)
    holder.append(rt)
    try:
        yield rt
    finally:
        forget_accumulators(rt)
        rt.close()


@pytest.fixture(name="held_back")
def held_back_fixture() -> list[str]:
    """The claims sent to the held-back worker of `held`."""
    return []


@pytest.fixture(name="held")
def held_fixture(
    private_ledger_url: str, redis_url: str, tmp_path: Path, held_back: list[str]
) -> Iterator[Runtime]:
    """A runtime whose worker is held back: nothing is decided, and the wait is short."""
    rt = _runtime(private_ledger_url, redis_url, tmp_path, held_back.append)
    rt.config = dataclasses.replace(rt.config, sync_timeout=0.3)
    try:
        yield rt
    finally:
        forget_accumulators(rt)
        rt.close()


def _member(rt: Runtime) -> str:
    return str(enroll(rt, effective_date="2024-01-01")["cardholder_id"])


def _claims(rt: Runtime, cardholder: str) -> list:
    page = claim_queries.listing(
        rt, {"cardholder_id": cardholder, "limit": 50, "cursor": None, "status": None,
             "review": None, "date_from": None, "date_to": None}, npi=None,
    )  # fmt: skip
    return list(page["items"])


def test_a_b1_is_paid_and_answers_the_json_decisions_amounts(d0):
    member, npi = _member(d0), pharmacy(d0)
    answer = ncpdp.answer(d0, SWITCH, billing(member, npi))
    assert answer is not None
    assert parsed(answer).header["status"] == "A"
    assert status(answer).first("AN") == "P"
    [claim] = _claims(d0, member)
    assert claim["status"] == ClaimStatus.PAID
    assert status(answer).first("F3") == claim["authorization_number"]
    amounts = pricing(answer)
    assert amounts["F9"] == claim["amounts"]["program_paid"] == 150_000
    assert amounts["F5"] == claim["amounts"]["patient_pay"] == 0
    assert amounts["FE"] == 1_050_000
    assert "BENEFIT REMAINING 10500.00" in messages(answer)


def test_an_identical_b1_answers_d_with_the_original_and_a_different_one_83(d0):
    member, npi = _member(d0), pharmacy(d0)
    first = ncpdp.answer(d0, SWITCH, billing(member, npi))
    again = ncpdp.answer(d0, SWITCH, billing(member, npi))
    other = ncpdp.answer(d0, SWITCH, billing(member, npi, owed=100_000))
    assert first and again and other
    assert status(again).first("AN") == "D"
    assert status(again).first("F3") == status(first).first("F3")
    assert pricing(again) == pricing(first)
    assert status(other).first("AN") == "R" and status(other).every("FB") == ["83"]
    assert len(_claims(d0, member)) == 2  # the duplicate stores nothing; the 83 is a claim


def test_header_rejects_name_every_code_in_order_and_store_nothing(d0):
    member, npi = _member(d0), pharmacy(d0)
    bad = {"version": "D1", "bin": "123456", "pcn": "OTHER", "count": "2", "qualifier": "05"}
    answer = ncpdp.answer(d0, SWITCH, billing(member, npi, header_overrides=bad))
    assert answer is not None
    assert parsed(answer).header["status"] == "R"
    assert status(answer).every("FB") == ["02", "01", "04", "A9", "05"]
    assert _claims(d0, member) == []


def test_missing_fields_answer_their_codes_and_store_nothing(d0):
    member, npi = _member(d0), pharmacy(d0)
    answer = ncpdp.answer(
        d0, SWITCH, billing("", npi, rx="RX1", claim_extra=(("D5", "0"),), coverage="2")
    )
    assert answer is not None
    assert status(answer).first("AN") == "R"
    # 07 cardholder, 16 Rx number; the later D5 repeat is not read (the first is 30).
    assert status(answer).every("FB") == ["07", "16"]
    assert _claims(d0, member) == []


def test_a_pharmacy_key_bills_only_for_its_own_npi(d0):
    member, npi = _member(d0), pharmacy(d0)
    with pytest.raises(Forbidden):
        ncpdp.answer(d0, Principal("pharmacy", "other", "1234567893"), billing(member, npi))


def test_an_unreadable_header_is_none(d0):
    assert ncpdp.answer(d0, SWITCH, b"999999D0B1") is None
    assert ncpdp.answer(d0, SWITCH, billing("x", "1234567893") + "é".encode()) is None


def test_b2_reverses_once_then_answers_s_and_84_for_an_unknown_key(d0):
    member, npi = _member(d0), pharmacy(d0)
    ncpdp.answer(d0, SWITCH, billing(member, npi))
    first = ncpdp.answer(d0, SWITCH, reversal(npi))
    again = ncpdp.answer(d0, SWITCH, reversal(npi))
    unknown = ncpdp.answer(d0, SWITCH, reversal(npi, rx="999"))
    assert first and again and unknown
    assert status(first).first("AN") == "A"
    assert status(again).first("AN") == "S"
    assert status(unknown).first("AN") == "R" and status(unknown).every("FB") == ["84"]
    assert (
        d0.accumulator.snapshot(member)["used"] == {}
        or sum(d0.accumulator.snapshot(member)["used"].values()) == 0
    )


def _used(rt: Runtime, member: str) -> int:
    return sum(rt.accumulator.snapshot(member)["used"].values())


def _redis_agrees_with_the_ledger(rt: Runtime, member: str) -> bool:
    """`accumulators check` for one member (the session's Redis holds other tests' too)."""
    paid = [c for c in _claims(rt, member) if c["status"] == ClaimStatus.PAID]
    return _used(rt, member) == sum(c["amounts"]["program_paid"] for c in paid)


def test_b3_reverses_the_paid_claim_and_pays_the_new_content_in_one_step(d0):
    member, npi = _member(d0), pharmacy(d0)
    ncpdp.answer(d0, SWITCH, billing(member, npi, owed=150_000))
    answer = ncpdp.answer(d0, SWITCH, billing(member, npi, code="B3", owed=90_000))
    assert answer is not None
    assert status(answer).first("AN") == "P"
    assert pricing(answer)["F9"] == 90_000
    claims = {c["status"]: c for c in _claims(d0, member)}
    assert set(claims) == {"paid", "reversed"}
    old = claim_queries.get(d0, claims["reversed"]["claim_id"], with_events=True)
    assert old["events"][-1]["data"]["rebilled_by"] == claims["paid"]["claim_id"]
    assert _used(d0, member) == 90_000
    assert money.check(d0)["mismatches"] == []  # the old one's reversal, the new one's payment
    assert _redis_agrees_with_the_ledger(d0, member)


def test_b3_at_the_annual_cap_sees_the_old_amount_given_back(d0):
    member, npi = _member(d0), pharmacy(d0)
    for rx in range(1, 9):  # 8 x 1500.00 = the whole 12000.00
        ncpdp.answer(d0, SWITCH, billing(member, npi, rx=str(rx)))
    assert _used(d0, member) == 1_200_000
    answer = ncpdp.answer(d0, SWITCH, billing(member, npi, code="B3", rx="8", owed=200_000))
    assert answer is not None
    assert status(answer).first("AN") == "P"
    assert pricing(answer)["F9"] == 150_000  # what the old claim gave back, no more
    assert pricing(answer)["FK"] == 50_000
    assert pricing(answer)["FE"] == 0
    assert _used(d0, member) == 1_200_000
    assert _redis_agrees_with_the_ledger(d0, member)


def test_a_b3_that_rejects_keeps_the_old_claim_paid_and_stores_nothing(d0):
    member, npi = _member(d0), pharmacy(d0)
    ncpdp.answer(d0, SWITCH, billing(member, npi))
    answer = ncpdp.answer(d0, SWITCH, billing(member, npi, code="B3", coverage="2"))
    assert answer is not None
    assert status(answer).first("AN") == "R" and status(answer).every("FB") == ["13"]
    [claim] = _claims(d0, member)
    assert claim["status"] == ClaimStatus.PAID
    assert _used(d0, member) == 150_000


def test_a_b3_without_a_paid_claim_answers_84(d0):
    member, npi = _member(d0), pharmacy(d0)
    answer = ncpdp.answer(d0, SWITCH, billing(member, npi, code="B3"))
    assert answer is not None
    assert status(answer).every("FB") == ["84"]
    assert _claims(d0, member) == []


def test_a_transaction_not_decided_in_time_is_rejected_85_and_stays_so(held):
    member, npi = _member(held), pharmacy(held)
    answer = ncpdp.answer(held, SWITCH, billing(member, npi))
    assert answer is not None
    assert status(answer).first("AN") == "R" and status(answer).every("FB") == ["85"]
    [claim] = _claims(held, member)
    assert claim["status"] == ClaimStatus.REJECTED
    decide_and_announce(held, claim["claim_id"])  # the worker comes late
    [after] = _claims(held, member)
    assert after["status"] == ClaimStatus.REJECTED
    assert [r["code"] for r in after["reject_codes"]] == ["85"]
    assert _used(held, member) == 0


def test_a_switch_bills_for_the_pharmacy_its_header_names(d0):
    member, npi = _member(d0), pharmacy(d0)
    identity.add_pharmacy(d0.ledger, npi, "Pharmacy", "accredo")
    ncpdp.answer(d0, SWITCH, billing(member, npi))
    [claim] = _claims(d0, member)
    assert claim_queries.get(d0, claim["claim_id"], npi=npi)["status"] == ClaimStatus.PAID


def test_a_b3_not_decided_in_time_answers_85_and_keeps_the_old_claim_paid(d0, held):
    member, npi = _member(d0), pharmacy(d0)
    ncpdp.answer(d0, SWITCH, billing(member, npi))  # paid, by the worker of `d0`
    answer = ncpdp.answer(held, SWITCH, billing(member, npi, code="B3", owed=90_000))
    assert answer is not None
    assert status(answer).every("FB") == ["85"]
    [claim] = _claims(d0, member)
    assert claim["status"] == ClaimStatus.PAID and claim["amounts"]["program_paid"] == 150_000
    assert _used(d0, member) == 150_000


def test_a_late_worker_finds_a_discarded_rebill_and_changes_nothing(d0, held, held_back):
    member, npi = _member(d0), pharmacy(d0)
    ncpdp.answer(d0, SWITCH, billing(member, npi))
    ncpdp.answer(held, SWITCH, billing(member, npi, code="B3", owed=90_000))
    assert len(held_back) == 1
    decide_and_announce(held, held_back[0])
    [claim] = _claims(d0, member)
    assert claim["status"] == ClaimStatus.PAID
    assert _used(d0, member) == 150_000
    assert _redis_agrees_with_the_ledger(d0, member)


def test_giving_up_on_a_rebill_gives_back_what_a_dead_worker_took_in_redis(d0, held):
    member, npi = _member(d0), pharmacy(d0)
    ncpdp.answer(d0, SWITCH, billing(member, npi))
    [old] = _claims(d0, member)
    data = load_claim(
        claim_payload(member, npi, rx_number=old["rx_number"], responsibility="900.00")
    )
    submitted = intake.submit_claim(
        held, data, wait=None, channel="ncpdp", rebill_of=old["claim_id"]
    )
    year = d0.accumulator.snapshot(member)["grants"][old["claim_id"]][0]
    # The worker's Redis step, then it dies before its ledger transaction.
    held.accumulator.rebill(
        member, year, submitted.claim_id, 90_000, 1_200_000, replaces=old["claim_id"]
    )
    assert _used(d0, member) == 90_000
    assert intake.give_up(held, submitted.claim_id) is None
    assert claim_queries.read_claim(d0, submitted.claim_id) is None
    assert _used(d0, member) == 150_000
    assert _redis_agrees_with_the_ledger(d0, member)


def test_e1_answers_a_with_the_benefit_period_and_remaining(d0):
    member, npi = _member(d0), pharmacy(d0)
    ncpdp.answer(d0, SWITCH, billing(member, npi))
    answer = ncpdp.answer(d0, SWITCH, eligibility(member, npi))
    assert answer is not None
    assert status(answer).first("AN") == "A"
    assert messages(answer) == ["BENEFIT PERIOD 20240101-20241231", "BENEFIT REMAINING 10500.00"]


def test_e1_for_an_unknown_cardholder_is_52_and_out_of_network_40_alone(d0):
    member, npi = _member(d0), pharmacy(d0)
    unknown = ncpdp.answer(d0, SWITCH, eligibility("IC0000000000", npi))
    assert unknown is not None and status(unknown).every("FB") == ["52"]
    outside = pharmacy(d0, chain="corner_drugstore")
    answer = ncpdp.answer(d0, SWITCH, eligibility(member, outside, birth="20000101"))
    assert answer is not None
    assert status(answer).every("FB") == ["40"]
    assert not any(line.startswith("BENEFIT") for line in messages(answer))


def test_e1_without_a_cardholder_is_07_and_stores_nothing(d0):
    npi = pharmacy(d0)
    answer = ncpdp.answer(d0, SWITCH, eligibility("", npi))
    assert answer is not None and status(answer).every("FB") == ["07"]


def test_a_claim_dated_before_every_terms_version_is_still_answered_85_in_time(held):
    member, npi = _member(held), pharmacy(held)
    answer = ncpdp.answer(held, SWITCH, billing(member, npi, served="19990101"))
    assert answer is not None
    assert status(answer).every("FB") == ["85"]
