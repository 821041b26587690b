"""NCPDP.md, Time and failure, end to end: a server of its own whose wait
(ADJUDICATOR_SYNC_TIMEOUT) is one second, and whose Celery worker is held back (its
processes stopped with SIGSTOP, then continued). A B1 nobody decided in time answers R 85,
the JSON API shows the claim rejected 85, and it stays so after the worker reaches it
(sent again, it is paid); a B3 answers 85 and the old claim stays paid. Nothing is paid
that the pharmacy was told was rejected."""

from __future__ import annotations

import json
import os
import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import Server, running_service
from tests.e2e.d0_helpers import (
    SERVED,
    claim,
    outcome,
    over_http,
    over_tcp,
    pricing_of,
    status_of,
    together,
    wait_for,
)
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    DEMO_PHARMACY_NPI,
    benefit,
    claim_payload,
    claims_of,
    cli_status,
    enroll,
)
from tests.ledgers import fresh_ledger
from tests.ncpdp_builders import billing, eligibility, reversal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hurried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """`adjudicator run --ncpdp-port` of its own (ledger, embedded Redis) with a one-second
    wait: (the server, a switch key)."""
    folder = tmp_path_factory.mktemp("time-out")
    with fresh_ledger(folder, "time_out") as database_url:  # a PostgreSQL schema name
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(
            DATABASE_URL=database_url,
            ADJUDICATOR_DATA_DIR=str(folder / "data"),
            ADJUDICATOR_SYNC_TIMEOUT="1",
        )
        with running_service(env, folder / "server.log", ncpdp=True) as server:
            key = str(server.cli("switches", "add", "--name", "hurried-switch")["api_key"])
            yield server, key


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _worker_processes(server: Server) -> list[int]:
    """The Celery worker `run` started, and its pool (and beat) processes."""
    assert server.pid is not None
    celery = [
        pid
        for pid in _children(server.pid)
        if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(celery) == 1, celery
    pool = _children(celery[0])
    assert pool, "the worker has no pool processes"
    return celery + pool


@contextmanager
def worker_held_back(server: Server) -> Iterator[None]:
    """The worker's processes stopped for the block, continued after it."""
    processes = _worker_processes(server)
    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in reversed(processes):
            os.kill(pid, signal.SIGCONT)


def _announced(server: Server) -> set[bytes]:
    """The `claim-done:` keys a worker writes when it has reached a claim (they live the
    wait plus 5 s): how a test knows the held-back worker got to its claims."""
    client = redis.Redis.from_url(server.env["REDIS_URL"])
    try:
        return set(client.scan_iter(match="claim-done:*"))
    finally:
        client.close()


def _assert_accumulators_clean(server: Server) -> None:
    code, out = cli_status(server, "accumulators", "check")
    assert code == 0, out
    assert json.loads(out)["mismatches"] == []


@pytest.mark.parametrize("door", ["http", "tcp"])
def test_a_b1_not_decided_in_time_is_r_85_and_stays_rejected_after_the_worker_runs(
    hurried: tuple[Server, str], door: str
) -> None:
    server, switch_key = hurried
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    body = billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=str(random.randint(1, 10**9)))

    with worker_held_back(server):
        answer = over_http(server, body, switch_key) if door == "http" else over_tcp(server, body)
        assert outcome(answer) == ("R", ["85"])
        assert pricing_of(answer) is None
        [stored] = claims_of(server, cardholder)
        assert stored["status"] == "rejected"
        assert [r["code"] for r in stored["reject_codes"]] == ["85"]
        assert stored["channel"] == "ncpdp"
        before = _announced(server)

    key = f"claim-done:{stored['claim_id']}".encode()
    wait_for(lambda: key in _announced(server) - before, "the worker reached the claim")
    after = claim(server, stored["claim_id"])
    assert after["status"] == "rejected"
    assert [r["code"] for r in after["reject_codes"]] == ["85"]
    assert after["amounts"]["program_paid"] == "0.00"
    assert benefit(server, cardholder, "2026-03-01")["used"] == "0.00"
    _assert_accumulators_clean(server)

    # What a pharmacy does after an 85: send it again. With the worker back, it is paid,
    # as a claim of its own; the 85 stays as it was.
    again = over_http(server, body, switch_key) if door == "http" else over_tcp(server, body)
    assert outcome(again) == ("P", [])
    statuses = {c["claim_id"]: c["status"] for c in claims_of(server, cardholder)}
    assert len(statuses) == 2 and statuses[stored["claim_id"]] == "rejected"
    assert benefit(server, cardholder, "2026-03-01")["used"] == "1500.00"


def test_a_b3_not_decided_in_time_is_r_85_and_the_old_claim_stays_paid(
    hurried: tuple[Server, str],
) -> None:
    server, switch_key = hurried
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    rx = str(random.randint(1, 10**9))
    payload = claim_payload(cardholder, drug="1500.00", rx=rx, date_of_service="2026-03-01")
    # Paid through JSON, asynchronously, so that the one-second wait plays no part in it.
    queued = server.call(
        "POST", "/v1/claims", DEMO_PHARMACY_KEY, json=payload, headers={"Prefer": "respond-async"}
    )
    assert queued.status_code == 202, queued.text
    old_id = queued.json()["claim_id"]
    wait_for(lambda: claim(server, old_id)["status"] == "paid", "the claim to be paid")
    rebill = billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=rx, code="B3", owed=90_000)

    with worker_held_back(server):
        answer = over_http(server, rebill, switch_key)
        assert outcome(answer) == ("R", ["85"])
        before = _announced(server)

    wait_for(lambda: _announced(server) - before, "the worker reached the rebill")
    old = claim(server, old_id)
    assert (old["status"], old["amounts"]["program_paid"]) == ("paid", "1500.00")
    assert [c["claim_id"] for c in claims_of(server, cardholder)] == [old_id]
    assert benefit(server, cardholder, "2026-03-01")["used"] == "1500.00"
    _assert_accumulators_clean(server)


def test_with_the_worker_held_back_each_group_times_out_alone_and_b2_and_e1_still_answer(
    hurried: tuple[Server, str],
) -> None:
    server, switch_key = hurried
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    rx = str(random.randint(1, 10**9))
    queued = server.call(
        "POST",
        "/v1/claims",
        DEMO_PHARMACY_KEY,
        json=claim_payload(cardholder, rx=rx, date_of_service="2026-03-01"),
        headers={"Prefer": "respond-async"},
    )
    assert queued.status_code == 202, queued.text
    paid_id = queued.json()["claim_id"]
    wait_for(lambda: claim(server, paid_id)["status"] == "paid", "the claim to be paid")
    two = together(
        billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=str(random.randint(1, 10**9))),
        billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=str(random.randint(1, 10**9))),
    )

    with worker_held_back(server):
        answer = over_tcp(server, two)
        assert [outcome(answer, g) for g in (0, 1)] == [("R", ["85"]), ("R", ["85"])]
        # A reversal and an inquiry are answered by the door itself, without a worker.
        reversed_now = over_http(
            server, reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=rx), switch_key
        )
        assert outcome(reversed_now) == ("A", [])
        inquiry = over_http(
            server, eligibility(cardholder, DEMO_PHARMACY_NPI, served=SERVED), switch_key
        )
        assert outcome(inquiry) == ("A", [])
        assert status_of(inquiry).every("FQ")[-1] == "BENEFIT REMAINING 12000.00"
        before = _announced(server)

    wait_for(lambda: len(_announced(server) - before) >= 2, "the worker reached both claims")
    statuses = sorted(c["status"] for c in claims_of(server, cardholder))
    assert statuses == ["rejected", "rejected", "reversed"]
    assert benefit(server, cardholder, "2026-03-01")["used"] == "0.00"
    _assert_accumulators_clean(server)
