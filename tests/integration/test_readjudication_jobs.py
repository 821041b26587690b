"""Re-adjudication jobs under stress: pharmacy claims during an apply, a failing chunk, a
worker killed mid-job (redelivery resumes; the crash window is healed)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import update

from adjudicator.adapters import readjudication as jobs_sql
from adjudicator.adapters.accumulator import ReplayInFlight
from adjudicator.services import accumulators, adjudication, enrollments, readjudication
from adjudicator.services.readjudication import apply as apply_module
from adjudicator.services.readjudication import jobs as jobs_module
from adjudicator.services.runtime import Runtime
from tests.integration.builders import claim_payload, enroll, load_patch, pay, pharmacy, submit
from tests.integration.readjudication_support import (
    ADMIN,
    all_changes,
    assert_accumulator_matches_ledger,
    claim_rows,
    paid_in_year,
    post_terms,
    run_job,
)

pytestmark = pytest.mark.integration

YEAR = ("2021-01-01", "2021-12-31")
MONTHS = [f"2021-{month:02d}-01" for month in range(2, 10)]  # Feb to Sep


def capped_year(rt: Runtime, npi: str) -> dict[str, Any]:
    """A member whose 2021 is full: 8 x $1,500 paid, then an October claim rejected 76."""
    member = enroll(rt, effective_date="2021-01-01")
    for dos in MONTHS:
        pay(rt, claim_payload(member["cardholder_id"], npi, date_of_service=dos))
    late = pay(rt, claim_payload(member["cardholder_id"], npi, date_of_service="2021-10-01"))
    assert late.status == "rejected"
    return member


def wait_for_grant(rt: Runtime, cardholder_id: str, claim_id: str) -> None:
    deadline = time.monotonic() + 10
    while claim_id not in rt.accumulator.snapshot(cardholder_id)["grants"]:
        assert time.monotonic() < deadline, "the live claim never reserved"
        time.sleep(0.005)


def live_claim(rt: Runtime, cardholder_id: str, npi: str, amount: str = "2500.00") -> str:
    """A claim the pharmacy just sent: stored `received`, not decided yet."""
    payload = claim_payload(cardholder_id, npi, responsibility=amount, date_of_service="2021-11-01")
    return submit(rt, payload).claim_id


# --- pharmacy claims during an apply ------------------------------------------------------


def test_a_claim_reserved_right_after_the_hold_fits_under_the_replayed_total(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    npi = pharmacy(rt)
    member = capped_year(rt, npi)
    holder, year = member["cardholder_id"], member["enrollment_id"]
    post_terms(rt, "2021-07-max", "2021-07-01", annual_max="15000.00")
    live = live_claim(rt, holder, npi)
    hold = rt.accumulator.hold_for_replay_many
    workers: list[threading.Thread] = []

    def hold_then_a_worker_decides_the_live_claim(*args: Any) -> list[int]:
        used = hold(*args)
        if not workers:  # the worker reserves at once, and records once the job commits
            workers.append(threading.Thread(target=adjudication.adjudicate, args=(rt, live)))
            workers[0].start()
            wait_for_grant(rt, holder, live)
        return used

    monkeypatch.setattr(
        rt.accumulator, "hold_for_replay_many", hold_then_a_worker_decides_the_live_claim
    )

    job = run_job(rt, *YEAR, "apply")
    workers[0].join(30)

    # The replay pays October $1,500 (13,500 used); the live claim gets what is left of the
    # new $15,000, never what the old total (12,000) would have left.
    assert job["summary"]["changed"] == 1
    rows = {row.claim_id: row for row in claim_rows(rt, holder)}
    assert (rows[live].status, rows[live].program_paid) == ("paid", 150000)
    assert paid_in_year(rt, holder, year) == 1500000 == rt.accumulator.used(holder, year)
    assert_accumulator_matches_ledger(rt, holder)
    assert run_job(rt, *YEAR, "dry_run")["summary"]["changed"] == 0


def test_a_claim_reserved_before_the_hold_makes_the_job_wait_and_replay_it(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    npi = pharmacy(rt)
    member = capped_year(rt, npi)
    holder, year = member["cardholder_id"], member["enrollment_id"]
    post_terms(rt, "2021-07-max", "2021-07-01", annual_max="15000.00")
    live = live_claim(rt, holder, npi)
    hold = rt.accumulator.hold_for_replay_many
    workers: list[threading.Thread] = []
    refused: list[str] = []

    def a_worker_reserves_first(*args: Any) -> list[int]:
        if not workers:  # reserved before the hold, recorded only once the job lets go
            workers.append(threading.Thread(target=adjudication.adjudicate, args=(rt, live)))
            workers[0].start()
            wait_for_grant(rt, holder, live)
        try:
            return hold(*args)
        except ReplayInFlight as busy:
            refused.append(busy.claim_id)
            raise

    monkeypatch.setattr(rt.accumulator, "hold_for_replay_many", a_worker_reserves_first)

    job = run_job(rt, *YEAR, "apply")
    workers[0].join(30)

    # The live claim took $2,500 of the $3,000 the new cap freed. Replayed in the order of
    # adjudication, October (decided first) takes $1,500 and the live claim the rest.
    assert refused and set(refused) == {live}
    assert job["status"] == "succeeded"
    assert job["summary"]["changed"] == 2
    changes = {c["claim_id"]: c for c in all_changes(rt, job["job_id"])}
    assert changes[live]["before"] == {"status": "paid", "program_paid": 250000}
    assert changes[live]["after"] == {"status": "paid", "program_paid": 150000}
    assert paid_in_year(rt, holder, year) == 1500000 == rt.accumulator.used(holder, year)
    assert_accumulator_matches_ledger(rt, holder)
    assert run_job(rt, *YEAR, "dry_run")["summary"]["changed"] == 0


def test_pharmacy_claims_flowing_during_an_apply_never_break_the_cap(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    npi = pharmacy(rt)
    members = [capped_year(rt, npi) for _ in range(4)]
    post_terms(rt, "2021-07-max", "2021-07-01", annual_max="15000.00")
    monkeypatch.setattr(jobs_module, "CHUNK_CARDHOLDERS", 1)
    hold = rt.accumulator.hold_for_replay_many

    def slow_hold(*args: Any) -> list[int]:
        used = hold(*args)
        time.sleep(0.02)  # widen the window in which a live claim meets the hold
        return used

    monkeypatch.setattr(rt.accumulator, "hold_for_replay_many", slow_hold)
    errors: list[BaseException] = []

    def pharmacy_traffic(member: dict[str, Any]) -> None:
        try:
            for _ in range(4):
                claim_id = live_claim(rt, member["cardholder_id"], npi, "1200.00")
                adjudication.adjudicate(rt, claim_id)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=pharmacy_traffic, args=(m,)) for m in members]
    job = readjudication.create(
        rt, {"date_from": _d(YEAR[0]), "date_to": _d(YEAR[1]), "mode": "apply"}, ADMIN
    )
    for thread in threads:
        thread.start()
    readjudication.run(rt, job["job_id"])
    for thread in threads:
        thread.join(60)

    assert not errors
    assert readjudication.get(rt, job["job_id"])["status"] == "succeeded"
    for member in members:
        holder, year = member["cardholder_id"], member["enrollment_id"]
        assert all(row.status != "received" for row in claim_rows(rt, holder))
        assert paid_in_year(rt, holder, year) <= 1500000
        assert paid_in_year(rt, holder, year) == rt.accumulator.used(holder, year)
        assert_accumulator_matches_ledger(rt, holder)
    assert run_job(rt, *YEAR, "apply")["summary"]["changed"] == 0


# --- failure and redelivery ---------------------------------------------------------------


def _medicaid_members(rt: Runtime, npi: str, count: int) -> list[dict[str, Any]]:
    """Members with two paid 2021 claims each, then found on Medicaid (sorted by id)."""
    members = []
    for _ in range(count):
        member = enroll(rt, effective_date="2021-01-01")
        for dos, amount in (("2021-02-01", "1500.00"), ("2021-03-01", "2000.00")):
            payload = claim_payload(
                member["cardholder_id"], npi, responsibility=amount, date_of_service=dos
            )
            pay(rt, payload)
        patch = load_patch({"coverage": {"type": "medicaid"}})
        enrollments.update(rt, member["enrollment_id"], patch, "user:hub")
        members.append(member)
    return sorted(members, key=lambda m: m["cardholder_id"])


def _statuses(rt: Runtime, member: dict[str, Any]) -> list[str]:
    return [row.status for row in claim_rows(rt, member["cardholder_id"])]


def test_a_failing_chunk_fails_the_job_and_leaves_no_patient_year_half_applied(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, failing, last = _medicaid_members(rt, pharmacy(rt), 3)
    monkeypatch.setattr(apply_module, "GROUP_CARDHOLDERS", 1)  # a transaction each
    bad_claim = claim_rows(rt, failing["cardholder_id"])[1].claim_id
    write = jobs_sql.set_readjudicated_many

    def fail_on_the_bad_claim(conn: Any, decisions: list[Any]) -> bool:
        ids = [d[0] for d in decisions]
        if bad_claim in ids:  # after the year's first claim was written
            write(conn, decisions[: ids.index(bad_claim)])
            raise RuntimeError("disk full")
        return write(conn, decisions)

    monkeypatch.setattr(jobs_sql, "set_readjudicated_many", fail_on_the_bad_claim)

    job = run_job(rt, *YEAR, "apply")

    assert job["status"] == "failed"
    assert job["error"] == "RuntimeError: disk full"
    assert job["finished_at"] is not None
    assert job["summary"]["claims"] == 2 and job["summary"]["changed"] == 2
    assert _statuses(rt, first) == ["rejected", "rejected"]
    assert _statuses(rt, failing) == ["paid", "paid"]  # both or neither
    assert _statuses(rt, last) == ["paid", "paid"]
    for member in (first, failing, last):
        assert_accumulator_matches_ledger(rt, member["cardholder_id"])
    assert rt.accumulator.used(failing["cardholder_id"], failing["enrollment_id"]) == 350000


def _expire_lease(rt: Runtime, job_id: str) -> None:
    with rt.engine.begin() as conn:
        conn.execute(
            update(jobs_sql.jobs)
            .where(jobs_sql.jobs.c.job_id == job_id)
            .values(lease_until=jobs_sql.now().replace(year=2000))
        )


class WorkerKilled(BaseException):
    """Like SIGKILL for the test: nothing in the job catches it."""


def test_a_redelivered_job_resumes_after_the_last_cardholder_it_finished(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = _medicaid_members(rt, pharmacy(rt), 3)
    monkeypatch.setattr(jobs_module, "CHUNK_CARDHOLDERS", 1)
    job_id = readjudication.create(
        rt, {"date_from": _d(YEAR[0]), "date_to": _d(YEAR[1]), "mode": "apply"}, ADMIN
    )["job_id"]
    chunk = apply_module.Applier.apply_chunk
    calls: list[list[str]] = []

    def killed_on_the_second_chunk(self: Any, cardholders: list[str]) -> int:
        calls.append(cardholders)
        if len(calls) == 2:
            raise WorkerKilled
        return chunk(self, cardholders)

    monkeypatch.setattr(apply_module.Applier, "apply_chunk", killed_on_the_second_chunk)
    with pytest.raises(WorkerKilled):
        readjudication.run(rt, job_id)
    halfway = readjudication.get(rt, job_id)
    assert halfway["status"] == "running"
    assert halfway["progress"] == {"total": 6, "done": 2}
    # Redelivered while the first worker's lease holds: come back later.
    busy = readjudication.run(rt, job_id)
    assert busy.status == "busy" and busy.retry_in is not None and busy.retry_in > 1
    monkeypatch.setattr(apply_module.Applier, "apply_chunk", chunk)
    _expire_lease(rt, job_id)

    assert readjudication.run(rt, job_id).status == "succeeded"

    done = readjudication.get(rt, job_id)
    assert done["progress"] == {"total": 6, "done": 6}
    assert done["summary"]["claims"] == 6 and done["summary"]["changed"] == 6
    assert len({c["claim_id"] for c in all_changes(rt, job_id)}) == 6
    assert all(_statuses(rt, m) == ["rejected", "rejected"] for m in members)
    # Delivered once more after it finished: nothing happens.
    assert readjudication.run(rt, job_id).status == "succeeded"
    assert len(all_changes(rt, job_id)) == 6


def test_a_crash_between_the_sql_commit_and_redis_is_healed_when_the_job_resumes(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    (member,) = _medicaid_members(rt, pharmacy(rt), 1)
    holder, year = member["cardholder_id"], member["enrollment_id"]
    job_id = readjudication.create(
        rt, {"date_from": _d(YEAR[0]), "date_to": _d(YEAR[1]), "mode": "apply"}, ADMIN
    )["job_id"]
    commit = rt.accumulator.commit_replay_many

    def killed_before_redis(*args: Any) -> list[int]:
        raise WorkerKilled

    monkeypatch.setattr(rt.accumulator, "commit_replay_many", killed_before_redis)
    with pytest.raises(WorkerKilled):
        readjudication.run(rt, job_id)

    # SQL committed, Redis still holds the old total: never less than the ledger says,
    # and `accumulators check` shows the difference.
    assert _statuses(rt, member) == ["rejected", "rejected"]
    assert rt.accumulator.used(holder, year) == 350000
    mismatches = [m for m in accumulators.check(rt)["mismatches"] if m["enrollment_id"] == year]
    assert mismatches == [{"enrollment_id": year, "ledger_used": 0, "redis_used": 350000}]

    monkeypatch.setattr(rt.accumulator, "commit_replay_many", commit)
    _expire_lease(rt, job_id)
    assert readjudication.run(rt, job_id).status == "succeeded"

    assert rt.accumulator.used(holder, year) == 0
    assert_accumulator_matches_ledger(rt, holder)


def _d(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def test_a_claim_paid_between_the_first_look_and_the_write_is_replayed_under_the_lock(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    npi = pharmacy(rt)
    member = capped_year(rt, npi)
    holder, year = member["cardholder_id"], member["enrollment_id"]
    post_terms(rt, "2021-07-max", "2021-07-01", annual_max="15000.00")
    group = apply_module.Applier._apply_group
    one_by_one = apply_module.Applier._apply_cardholder
    replayed_again: list[str] = []
    live: list[str] = []

    def a_claim_is_paid_first(self: Any, *args: Any) -> int:
        if not live:  # the pharmacy's claim lands after the job's first look
            live.append(live_claim(rt, holder, npi))
            adjudication.adjudicate(rt, live[0])
        return group(self, *args)

    def counted(self: Any, cardholder: str, earlier: Any) -> int:
        replayed_again.append(cardholder)
        return one_by_one(self, cardholder, earlier)

    monkeypatch.setattr(apply_module.Applier, "_apply_group", a_claim_is_paid_first)
    monkeypatch.setattr(apply_module.Applier, "_apply_cardholder", counted)

    job = run_job(rt, *YEAR, "apply")

    # The live claim took $2,500 of the new room; replayed after October, it keeps $1,500.
    assert replayed_again == [holder]
    assert job["summary"]["changed"] == 2
    rows = {row.claim_id: row for row in claim_rows(rt, holder)}
    assert rows[live[0]].program_paid == 150000
    assert paid_in_year(rt, holder, year) == 1500000 == rt.accumulator.used(holder, year)
    assert_accumulator_matches_ledger(rt, holder)


def test_a_dry_run_in_helper_processes_finds_what_one_process_finds(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    npi = pharmacy(rt)
    for _ in range(5):
        capped_year(rt, npi)
    _medicaid_members(rt, npi, 3)
    post_terms(rt, "2021-07-max", "2021-07-01", annual_max="15000.00")
    monkeypatch.setattr(jobs_module, "CHUNK_CARDHOLDERS", 2)  # several chunks per helper

    monkeypatch.setenv("ADJUDICATOR_REPLAY_PROCESSES", "1")
    alone = run_job(rt, *YEAR, "dry_run")
    monkeypatch.setenv("ADJUDICATOR_REPLAY_PROCESSES", "2")
    helped = run_job(rt, *YEAR, "dry_run")

    assert helped["status"] == "succeeded"
    assert helped["summary"] == alone["summary"]
    assert helped["summary"]["changed"] == 5 + 6
    assert helped["progress"] == alone["progress"] == {"total": 51, "done": 51}

    def by_claim(job: dict[str, Any]) -> dict[str, Any]:
        return {c["claim_id"]: c for c in all_changes(rt, job["job_id"])}

    assert by_claim(helped) == by_claim(alone)
