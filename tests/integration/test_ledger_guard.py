"""SQL decides what is left: when Redis forgets what a patient used, no payment takes the
year past the annual maximum the ledger counts, and the accumulators heal from the ledger."""

from __future__ import annotations

import pytest

from adjudicator.adapters.accumulator import EPOCH_KEY, accumulator_key
from adjudicator.services import accumulators, adjudication
from adjudicator.services.runtime import Runtime
from tests.integration.builders import claim_payload, enroll, events, pay, pharmacy, submit

pytestmark = pytest.mark.integration


def _forget(rt: Runtime, cardholder_id: str) -> None:
    """What a Redis that comes back empty knows of this patient: nothing."""
    rt.redis.delete(accumulator_key(cardholder_id))


def _paid_in_year(rt: Runtime, member: dict) -> int:
    with rt.ledger.reading() as uow:
        return uow.claims.paid_in_year(member["cardholder_id"], member["enrollment_id"])


def test_a_payment_redis_grants_past_what_the_ledger_leaves_is_cut_to_what_is_left(runtime):
    member, npi = enroll(runtime), pharmacy(runtime)
    pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="11000.00"))
    _forget(runtime, member["cardholder_id"])
    corrections = runtime.accumulator.corrections()

    cut = pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="1500.00"))

    assert (cut.status, cut.program_paid) == ("paid", 100_000)
    assert cut.decision["benefit"]["used_before"] == 1_100_000
    assert [r["rule"] for r in cut.decision["reasons"]] == ["annual_max"]
    decided = [e for e in events(runtime, "claim", cut.claim_id) if e.type == "decided"]
    assert decided[0].data["ledger_guard"] == {"reserved": 150_000}
    assert runtime.accumulator.corrections() == corrections + 1
    # the year is healed from the ledger: Redis knows the $12,000 again
    assert runtime.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 1_200_000
    assert _paid_in_year(runtime, member) == 1_200_000


def test_a_payment_redis_grants_when_the_ledger_leaves_nothing_is_rejected_76(runtime):
    member, npi = enroll(runtime), pharmacy(runtime)
    pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="12000.00"))
    _forget(runtime, member["cardholder_id"])

    rejected = pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="500.00"))

    assert (rejected.status, rejected.program_paid) == ("rejected", 0)
    assert [r["code"] for r in rejected.decision["reject_codes"]] == ["76"]
    assert _paid_in_year(runtime, member) == 1_200_000
    snapshot = runtime.accumulator.snapshot(member["cardholder_id"])
    assert rejected.claim_id not in snapshot["grants"]  # its reservation was given back
    assert snapshot["used"][member["enrollment_id"]] == 1_200_000


def test_a_year_redis_still_knows_pays_as_before_and_counts_no_correction(runtime):
    member, npi = enroll(runtime), pharmacy(runtime)
    corrections = runtime.accumulator.corrections()

    paid = [
        pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="5000.00"))
        for _ in range(3)
    ]

    assert [c.program_paid for c in paid] == [500_000, 500_000, 200_000]
    assert runtime.accumulator.corrections() == corrections


def test_a_claim_in_flight_keeps_its_reservation_when_its_year_is_healed(runtime):
    member, npi = enroll(runtime), pharmacy(runtime)
    pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="1000.00"))
    in_flight = submit(
        runtime, claim_payload(member["cardholder_id"], npi, responsibility="300.00")
    )
    reservation = runtime.accumulator.reserve(
        member["cardholder_id"], member["enrollment_id"], in_flight.claim_id, 30_000, 1_200_000
    )
    _forget(runtime, member["cardholder_id"])
    runtime.accumulator.reserve(
        member["cardholder_id"], member["enrollment_id"], in_flight.claim_id, 30_000, 1_200_000
    )

    used = accumulators.heal_year(runtime, member["cardholder_id"], member["enrollment_id"])

    assert reservation.granted == 30_000
    assert used == 130_000  # the ledger's $1,000 and the claim in flight's $300
    adjudication.adjudicate(runtime, in_flight.claim_id)
    assert runtime.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 130_000


def test_the_sweep_heals_every_accumulator_when_redis_lost_its_epoch_mark(runtime):
    member, npi = enroll(runtime), pharmacy(runtime)
    pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="2000.00"))
    accumulators.heal_if_lost(runtime)  # whatever an earlier test left: marked now
    _forget(runtime, member["cardholder_id"])

    adjudication.sweep(runtime)  # the mark is there: Redis lost nothing it knows of
    assert runtime.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 0
    runtime.redis.delete(EPOCH_KEY)  # as after a FLUSHALL
    adjudication.sweep(runtime)

    assert runtime.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 200_000
    assert runtime.redis.exists(EPOCH_KEY)
