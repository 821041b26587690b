"""The Redis accumulator against a real server (embedded, or REDIS_URL)."""

from __future__ import annotations

import multiprocessing
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adjudicator.adapters.accumulator import (
    Accumulator,
    EvictingRedisError,
    Release,
    Reservation,
    accumulator_key,
    ensure_no_eviction,
)
from adjudicator.adapters.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.integration

CAP = 1_200_000  # $12,000.00
Y2024, Y2025 = "enr-2024", "enr-2025"


def test_a_reservation_within_the_cap_is_granted_in_full(acc, patient):
    assert acc.reserve(patient, Y2024, "c1", 50_000, CAP) == Reservation(0, 50_000, False)
    assert acc.reserve(patient, Y2024, "c2", 25_000, CAP) == Reservation(50_000, 25_000, False)
    assert acc.used(patient, Y2024) == 75_000


def test_a_reservation_at_the_cap_is_granted_in_part(acc, patient):
    acc.reserve(patient, Y2024, "c1", 1_100_000, CAP)
    assert acc.reserve(patient, Y2024, "c2", 300_000, CAP) == Reservation(1_100_000, 100_000, False)
    assert acc.used(patient, Y2024) == CAP


def test_an_exhausted_benefit_grants_zero_and_records_the_claim(acc, patient):
    acc.reserve(patient, Y2024, "c1", CAP, CAP)
    assert acc.reserve(patient, Y2024, "c2", 10_000, CAP) == Reservation(CAP, 0, False)
    assert acc.snapshot(patient)["grants"]["c2"] == (Y2024, 0, CAP)
    assert acc.used(patient, Y2024) == CAP


def test_a_replayed_claim_gets_its_first_answer_and_changes_nothing(acc, patient):
    first = acc.reserve(patient, Y2024, "c1", 70_000, CAP)
    before = acc.snapshot(patient)
    again = acc.reserve(patient, Y2024, "c1", 999_999, CAP)
    assert again == Reservation(first.used_before, first.granted, replayed=True)
    assert acc.snapshot(patient) == before


def test_a_release_returns_to_the_grants_year_even_when_a_newer_year_exists(acc, patient):
    acc.reserve(patient, Y2024, "old", 40_000, CAP)
    acc.reserve(patient, Y2025, "new", 10_000, CAP)
    assert acc.release(patient, "old") == Release(Y2024, 40_000, 0)
    assert acc.used(patient, Y2025) == 10_000


def test_releasing_twice_gives_back_once(acc, patient):
    acc.reserve(patient, Y2024, "c1", 30_000, CAP)
    acc.reserve(patient, Y2024, "c2", 5_000, CAP)
    assert acc.release(patient, "c1").released_cents == 30_000
    assert acc.release(patient, "c1") == Release(Y2024, 0, 5_000)
    assert acc.used(patient, Y2024) == 5_000


def test_a_released_claim_replayed_is_not_granted_again(acc, patient):
    acc.reserve(patient, Y2024, "c1", 30_000, CAP)
    acc.release(patient, "c1")
    assert acc.reserve(patient, Y2024, "c1", 30_000, CAP).replayed
    assert acc.used(patient, Y2024) == 0


def test_releasing_an_unknown_claim_releases_nothing(acc, patient):
    assert acc.release(patient, "never") == Release(None, 0, None)
    assert acc.snapshot(patient) == {"used": {}, "grants": {}, "released": set()}


def test_cancel_gives_the_grant_back_and_lets_the_claim_reserve_afresh(acc, patient):
    acc.reserve(patient, Y2024, "c1", 30_000, CAP)
    assert acc.cancel(patient, "c1") == Release(Y2024, 30_000, 0)
    assert acc.cancel(patient, "c1") == Release(None, 0, None)
    assert acc.reserve(patient, Y2024, "c1", 20_000, CAP) == Reservation(0, 20_000, False)


def test_cancel_after_a_release_gives_nothing_back_twice(acc, patient):
    acc.reserve(patient, Y2024, "c1", 30_000, CAP)
    acc.reserve(patient, Y2024, "c2", 5_000, CAP)
    acc.release(patient, "c1")
    assert acc.cancel(patient, "c1") == Release(Y2024, 0, 5_000)
    assert acc.snapshot(patient)["released"] == set()


def test_used_is_zero_for_an_unknown_cardholder_or_year(acc, patient):
    assert acc.used(patient, Y2024) == 0


def test_negative_or_non_integer_amounts_are_refused(acc, patient):
    for bad in (-1, 1.5, True, 2**53):
        with pytest.raises(ValueError):
            acc.reserve(patient, Y2024, "c1", bad, CAP)


def test_enrollment_ids_may_contain_colons(acc, patient):
    acc.reserve(patient, "a:b:1", "c1", 100, CAP)
    assert acc.reserve(patient, "a:b:1", "c1", 100, CAP) == Reservation(0, 100, True)
    assert acc.release(patient, "c1") == Release("a:b:1", 100, 0)


def test_snapshot_and_replace_round_trip_the_whole_hash(acc, patient, redis_client):
    acc.reserve(patient, Y2024, "gone", 10_000, CAP)  # replaced away
    acc.replace(
        patient,
        used_by_year={Y2024: 7_000, Y2025: 0},
        grants={"c1": (Y2024, 7_000, 0), "c2": (Y2024, 3_000, 7_000)},
        released={"c2"},
    )
    assert acc.snapshot(patient) == {
        "used": {Y2024: 7_000, Y2025: 0},
        "grants": {"c1": (Y2024, 7_000, 0), "c2": (Y2024, 3_000, 7_000)},
        "released": {"c2"},
    }
    assert acc.release(patient, "c2").released_cents == 0
    acc.replace(patient, {}, {}, set())
    assert not redis_client.exists(accumulator_key(patient))


def test_cardholders_lists_every_accumulator_key(acc, key_prefix):
    mine = {f"{key_prefix}-{n}" for n in range(25)}
    for cardholder in mine:
        acc.reserve(cardholder, Y2024, "c1", 1, CAP)
    assert mine <= set(acc.cardholders())


def test_works_with_a_client_that_decodes_responses(redis_url, patient):
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        acc = Accumulator(client)
        try:
            acc.reserve(patient, Y2024, "c1", 100, CAP)
            assert acc.release(patient, "c1") == Release(Y2024, 100, 0)
            assert acc.snapshot(patient)["grants"] == {"c1": (Y2024, 100, 0)}
        finally:
            client.delete(accumulator_key(patient))


# --- concurrency ----------------------------------------------------------------------


def assert_serializable(grants: list[Reservation], used: int, requested: int) -> None:
    """Grants applied one at a time: each saw exactly the earlier ones, capped in total."""
    assert sum(g.granted for g in grants) == used == min(requested, CAP)
    running = 0
    for grant in sorted(grants, key=lambda g: (g.used_before, g.granted == 0)):
        assert grant.used_before == running
        running += grant.granted


def test_concurrent_reserves_from_threads_never_exceed_the_cap(acc, patient):
    amounts = [random.randint(0, 100_000) for _ in range(40)]
    start = threading.Barrier(len(amounts))

    def reserve(n: int) -> Reservation:
        start.wait()
        return acc.reserve(patient, Y2024, f"c{n}", amounts[n], CAP)

    with ThreadPoolExecutor(max_workers=len(amounts)) as pool:
        grants = list(pool.map(reserve, range(len(amounts))))
    assert_serializable(grants, acc.used(patient, Y2024), sum(amounts))


def reserve_in_another_process(job: tuple[str, str, str, int]) -> Reservation:
    url, cardholder, claim_id, amount = job
    with redis.Redis.from_url(url) as client:
        return Accumulator(client).reserve(cardholder, Y2024, claim_id, amount, CAP)


def test_concurrent_reserves_from_processes_never_exceed_the_cap(acc, patient, redis_url):
    jobs = [(redis_url, patient, f"c{n}", random.randint(0, 100_000)) for n in range(40)]
    # spawn, not fork: no inherited sockets or locks from this (threaded) process
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        grants = pool.map(reserve_in_another_process, jobs)
    assert_serializable(grants, acc.used(patient, Y2024), sum(job[3] for job in jobs))


# --- the Lua formula is the pure formula ------------------------------------------------

amounts = st.integers(min_value=0, max_value=2_000_000)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(used=amounts, requested=amounts, annual_max=amounts)
def test_the_lua_grant_is_the_pure_formula(acc, key_prefix, used, requested, annual_max):
    cardholder = f"{key_prefix}-{uuid.uuid4().hex}"  # fresh per example
    acc.replace(cardholder, {Y2024: used}, {}, set())
    result = acc.reserve(cardholder, Y2024, "c1", requested, annual_max)
    assert result.granted == min(requested, max(annual_max - used, 0))
    assert result.used_before == used
    assert acc.used(cardholder, Y2024) == used + result.granted


# --- eviction policy (on a private server: never CONFIG SET the shared one) -----------


def test_ensure_no_eviction_accepts_noeviction_and_rejects_allkeys_lru(tmp_path):
    with EmbeddedRedis(tmp_path) as server, redis.Redis.from_url(server.url) as client:
        ensure_no_eviction(client)
        client.config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(EvictingRedisError, match="allkeys-lru"):
            ensure_no_eviction(client)


@pytest.mark.parametrize("policy", ["noeviction", "volatile-lru"])
def test_ensure_no_eviction_reads_info_when_config_is_disabled(tmp_path, policy):
    extra = ['rename-command CONFIG ""', f"maxmemory-policy {policy}"]
    with (
        EmbeddedRedis(tmp_path, extra_config=extra) as server,
        redis.Redis.from_url(server.url) as client,
    ):
        with pytest.raises(redis.ResponseError):
            client.config_get("maxmemory-policy")
        if policy == "noeviction":
            ensure_no_eviction(client)
        else:
            with pytest.raises(EvictingRedisError, match=policy):
                ensure_no_eviction(client)
