"""services/accumulators.py: check compares Redis with the ledger, rebuild restores Redis.

The session's Redis may be shared (REDIS_URL) with other test sessions whose ledgers
differ, and rebuild() clears every accumulator the ledger does not know. So the tests
that corrupt or rebuild run on a private embedded Redis holding a copy rebuilt from this
session's ledger; the live accumulators are only read, and only for this test's members.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from adjudicator.adapters.accumulator import accumulator_key
from adjudicator.adapters.embedded_redis import EmbeddedRedis
from adjudicator.services import accumulators, reversals
from adjudicator.services.runtime import Runtime
from adjudicator.wiring import build_runtime
from tests.integration.builders import (
    claim_payload,
    enroll,
    one_json_object,
    pay,
    pharmacy,
    run_cli,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path_factory.mktemp("private-redis")) as server:
        yield server


@pytest.fixture
def private(
    runtime: Runtime, private_redis: EmbeddedRedis, enqueued: list[str]
) -> Iterator[Runtime]:
    """A Runtime on the session's ledger and a private Redis rebuilt from that ledger."""
    rt = build_runtime(runtime.config.with_redis(private_redis.url), enqueue=enqueued.append)
    try:
        accumulators.rebuild(rt)
        yield rt
    finally:
        rt.close()


def _activity(rt: Runtime) -> tuple[dict, dict]:
    """A member with two years, paid claims in both, one of year one's reversed later."""
    npi = pharmacy(rt)
    one = enroll(rt, effective_date="2023-01-01")
    two = enroll(rt, cardholder_id=one["cardholder_id"], effective_date="2024-01-01")
    kept = pay(rt, claim_payload(one["cardholder_id"], npi, date_of_service="2023-05-01"))
    gone = pay(rt, claim_payload(one["cardholder_id"], npi, date_of_service="2023-06-01"))
    pay(rt, claim_payload(one["cardholder_id"], npi, date_of_service="2024-02-01"))
    reversals.reverse(rt, gone.claim_id, npi, "pharmacy:" + npi)
    reversals.reverse(rt, gone.claim_id, npi, "pharmacy:" + npi)  # once only
    pay(rt, claim_payload(one["cardholder_id"], npi, date_of_service="2023-06-01"))  # rebilled
    assert kept.status == "paid"
    return one, two


def _mismatches_of(report: dict, *years: dict) -> list[dict]:
    ids = {year["enrollment_id"] for year in years}
    return [m for m in report["mismatches"] if m["enrollment_id"] in ids]


def test_after_paying_and_reversing_the_live_accumulators_match_the_ledger(runtime):
    one, two = _activity(runtime)

    report = accumulators.check(runtime)

    assert _mismatches_of(report, one, two) == []
    assert runtime.accumulator.used(one["cardholder_id"], one["enrollment_id"]) == 300_000
    assert runtime.accumulator.used(one["cardholder_id"], two["enrollment_id"]) == 150_000
    assert report["checked_cardholders"] >= 1


def test_a_rebuilt_accumulator_matches_the_ledger_everywhere(runtime, private):
    _activity(runtime)

    accumulators.rebuild(private)

    assert accumulators.check(private)["mismatches"] == []


def test_check_reports_the_year_whose_redis_total_was_corrupted(runtime, private):
    one, two = _activity(runtime)
    accumulators.rebuild(private)
    private.redis.hincrby(accumulator_key(one["cardholder_id"]), f"used:{two['enrollment_id']}", 7)

    report = accumulators.check(private)

    assert report["mismatches"] == [
        {"enrollment_id": two["enrollment_id"], "ledger_used": 150_000, "redis_used": 150_007}
    ]


def test_rebuild_restores_a_corrupted_year_and_check_is_clean_again(runtime, private):
    one, two = _activity(runtime)
    accumulators.rebuild(private)
    key = accumulator_key(one["cardholder_id"])
    private.redis.hincrby(key, f"used:{one['enrollment_id']}", -100_000)
    assert accumulators.check(private)["mismatches"] != []

    result = accumulators.rebuild(private)

    assert result["rebuilt_cardholders"] >= 1
    assert accumulators.check(private)["mismatches"] == []
    assert private.accumulator.used(one["cardholder_id"], one["enrollment_id"]) == 300_000


def test_a_rebuilt_accumulator_still_answers_replays_and_releases_once(runtime, private):
    npi = pharmacy(runtime)
    member = enroll(runtime, effective_date="2024-01-01")
    paid = pay(runtime, claim_payload(member["cardholder_id"], npi))
    reversed_ = pay(runtime, claim_payload(member["cardholder_id"], npi, responsibility="10.00"))
    reversals.reverse(runtime, reversed_.claim_id, npi, "pharmacy:" + npi)
    private.redis.delete(accumulator_key(member["cardholder_id"]))

    accumulators.rebuild(private)

    grants = private.accumulator.snapshot(member["cardholder_id"])
    assert grants["grants"][paid.claim_id] == (member["enrollment_id"], 150_000, 0)
    assert grants["released"] == {reversed_.claim_id}
    # a redelivered reversal gives nothing back a second time
    assert (
        private.accumulator.release(member["cardholder_id"], reversed_.claim_id).released_cents == 0
    )
    assert private.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 150_000


def test_check_reports_an_accumulator_the_ledger_does_not_know_and_rebuild_clears_it(private):
    stray = f"IC-stray-{uuid.uuid4().hex}"
    private.accumulator.reserve(stray, "no-such-year", "no-such-claim", 500, 1_200_000)

    report = accumulators.check(private)
    assert {"enrollment_id": "no-such-year", "ledger_used": 0, "redis_used": 500} in report[
        "mismatches"
    ]

    result = accumulators.rebuild(private)

    assert result["cleared_cardholders"] == 1
    assert accumulators.check(private)["mismatches"] == []


# --- `adjudicator accumulators check|rebuild` --------------------------------------


def test_the_check_command_exits_0_and_prints_one_json_object_when_all_match(
    runtime, private, private_redis, tmp_path
):
    _activity(runtime)
    accumulators.rebuild(private)

    done = run_cli(runtime, private_redis.url, tmp_path, "accumulators", "check")

    assert done.returncode == 0, done.stderr
    report = one_json_object(done.stdout)
    assert report["mismatches"] == []
    assert report["checked_cardholders"] >= 1


def test_the_check_command_on_the_sessions_redis_printsone_json_object(
    runtime, redis_url, tmp_path
):
    one, two = _activity(runtime)

    done = run_cli(runtime, redis_url, tmp_path, "accumulators", "check")

    report = one_json_object(done.stdout)
    assert set(report) == {"checked_cardholders", "mismatches", "ledger_corrections"}
    assert isinstance(report["ledger_corrections"], int)
    assert _mismatches_of(report, one, two) == []
    # 0 when the whole Redis matches this ledger (a REDIS_URL shared with other test
    # sessions can hold accumulators of their ledgers), 1 otherwise
    assert done.returncode == (1 if report["mismatches"] else 0), done.stderr


def test_the_check_command_exits_1_naming_a_corrupted_year(
    runtime, private, private_redis, tmp_path
):
    one, _ = _activity(runtime)
    accumulators.rebuild(private)
    private.redis.hincrby(accumulator_key(one["cardholder_id"]), f"used:{one['enrollment_id']}", 1)

    done = run_cli(runtime, private_redis.url, tmp_path, "accumulators", "check")

    assert done.returncode == 1
    assert one_json_object(done.stdout)["mismatches"] == [
        {"enrollment_id": one["enrollment_id"], "ledger_used": 300_000, "redis_used": 300_001}
    ]


def test_the_rebuild_command_restores_a_corrupted_year(runtime, private, private_redis, tmp_path):
    one, _ = _activity(runtime)
    accumulators.rebuild(private)
    private.redis.hdel(accumulator_key(one["cardholder_id"]), f"used:{one['enrollment_id']}")

    done = run_cli(runtime, private_redis.url, tmp_path, "accumulators", "rebuild")

    assert done.returncode == 0, done.stderr
    assert set(one_json_object(done.stdout)) == {"rebuilt_cardholders", "cleared_cardholders"}
    assert accumulators.check(private)["mismatches"] == []
