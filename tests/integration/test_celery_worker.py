"""A Celery round trip without HTTP: services send the task, a real worker decides it.

The worker consumes a queue of its own, not `claims`: a REDIS_URL may be shared with other
test sessions (each with its own ledger), and a worker must never take a message meant for
another ledger (it would find no such claim and acknowledge it, losing it until a sweep).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import select

from adjudicator.adapters.decision_channel import DONE, TaskPublisher
from adjudicator.adapters.tables import events as events_table
from adjudicator.services import adjudication, claim_queries, intake
from adjudicator.services.intake import Answer
from adjudicator.services.runtime import Runtime
from adjudicator.wiring import build_runtime
from schemas.claims import decision_json
from tasks.celery_app import ADJUDICATE_CLAIM
from tests.integration.builders import (
    claim_payload,
    claim_row,
    decided_claim,
    enroll,
    events,
    load_claim,
    pharmacy,
    submit,
)

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
DECISION_TIMEOUT = 10.0


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def worker(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    queue = f"claims-it-{uuid.uuid4().hex[:12]}"
    folder = tmp_path_factory.mktemp("celery-worker")
    with _running_worker(database_url, redis_url, folder, queue) as running:
        yield running


@contextmanager
def _running_worker(
    database_url: str, redis_url: str, folder: Path, queue: str
) -> Iterator[Worker]:
    """A solo worker on `queue` (comma-separated queues: in that order of preference)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ADJUDICATOR_DATA_DIR": str(folder),
    }
    command = [str(BIN / "celery"), "-A", "tasks.celery_app", "worker", "-Q", queue]
    hostname = f"{queue.split(',')[0]}@%h"
    command += ["--pool", "solo", "--loglevel", "INFO", "--hostname", hostname]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    log = folder / "worker.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    running = Worker(queue, process, log)
    try:
        _wait_until_ready(running)
        yield running
    finally:
        process.terminate()  # warm shutdown
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(worker: Worker) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{worker.log.read_text()[-3000:]}")
        if "ready." in worker.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the worker did not get ready:\n{worker.log.read_text()[-3000:]}")


@pytest.fixture
def via_celery(runtime: Runtime, worker: Worker, celery_app: Celery) -> Iterator[Runtime]:
    """A Runtime whose enqueue publishes to the worker's queue, as the web app does."""
    publisher = TaskPublisher(celery_app, runtime.redis)

    def enqueue(claim_id: str) -> None:
        publisher.publish(ADJUDICATE_CLAIM, [claim_id], worker.queue)

    rt = build_runtime(runtime.config, enqueue=enqueue)
    try:
        yield rt
    finally:
        rt.close()


def test_a_claim_sent_through_celery_is_decided_by_the_worker(via_celery):
    member = enroll(via_celery)
    npi = pharmacy(via_celery)

    data = load_claim(claim_payload(member["cardholder_id"], npi))
    started = time.monotonic()
    submitted = intake.submit_claim(via_celery, data, wait=DECISION_TIMEOUT)

    assert submitted.answer is Answer.DECIDED, "no decision within 10 s"
    assert time.monotonic() - started < DECISION_TIMEOUT
    row = claim_row(via_celery, submitted.claim_id)
    assert (row.claim_id, row.status, row.program_paid) == (submitted.claim_id, "paid", 150_000)
    assert via_celery.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 150_000


def test_the_worker_answers_the_waiting_request_with_the_rendered_decision(via_celery):
    member = enroll(via_celery)
    npi = pharmacy(via_celery)
    data = load_claim(claim_payload(member["cardholder_id"], npi))

    answer = intake.submit_claim(via_celery, data, wait=DECISION_TIMEOUT).rendered

    assert isinstance(answer, str), "no rendered decision within 10 s"
    claim_id = json.loads(answer)["claim_id"]
    assert answer == decision_json(claim_queries.get(via_celery, claim_id, npi=npi))


def test_a_redelivered_task_changes_nothing(via_celery):
    member = enroll(via_celery)
    npi = pharmacy(via_celery)
    submitted = intake.submit_claim(
        via_celery, load_claim(claim_payload(member["cardholder_id"], npi)), wait=DECISION_TIMEOUT
    )
    decided = decided_claim(via_celery, submitted.claim_id, DECISION_TIMEOUT)
    assert decided is not None

    via_celery.decisions.publish(submitted.claim_id)  # the same message again (acks_late)
    # the worker answers a replay on the claim's done list too (4 s: under the socket timeout)
    assert via_celery.decisions.await_answer(submitted.claim_id, 4) == DONE

    again = decided_claim(via_celery, submitted.claim_id, 0)
    assert again is not None and again == decided
    claim_events = events(via_celery, "claim", submitted.claim_id)
    assert [e.type for e in claim_events] == ["received", "decided"]
    assert via_celery.accumulator.used(member["cardholder_id"], member["enrollment_id"]) == 150_000


def test_a_worker_takes_every_waited_claim_before_any_queued_unwaited_one(
    runtime, database_url, redis_url, tmp_path
):
    # Queued before the worker starts: 6 claims nobody waits for, then 3 a request waits for.
    # Taken round robin (kombu's default) the waited ones would alternate with the others.
    waited_queue, unwaited_queue = (f"claims-it-{uuid.uuid4().hex[:12]}" for _ in range(2))
    rt = build_runtime(runtime.config, claim_queues=(waited_queue, unwaited_queue))
    try:
        member = enroll(rt)
        npi = pharmacy(rt)
        unwaited = [
            submit(rt, claim_payload(member["cardholder_id"], npi, responsibility="10.00")).claim_id
            for _ in range(6)
        ]
        waited = [
            intake.submit_claim(
                rt,
                load_claim(claim_payload(member["cardholder_id"], npi, responsibility="10.00")),
                wait=0.01,
            ).claim_id
            for _ in range(3)
        ]
        queues = f"{waited_queue},{unwaited_queue}"
        with _running_worker(database_url, redis_url, tmp_path, queues):
            for claim_id in unwaited + waited:
                assert decided_claim(rt, claim_id, DECISION_TIMEOUT) is not None
    finally:
        rt.close()

    with runtime.engine.connect() as conn:
        order = list(
            conn.execute(
                select(events_table.c.entity_id)
                .where(events_table.c.type == "decided")
                .where(events_table.c.entity_id.in_(unwaited + waited))
                .order_by(events_table.c.seq)
            ).scalars()
        )
    assert set(order[:3]) == set(waited)


def test_a_claim_whose_message_was_lost_is_decided_after_a_sweep(runtime, via_celery, enqueued):
    member = enroll(runtime)
    npi = pharmacy(runtime)
    lost = submit(runtime, claim_payload(member["cardholder_id"], npi))
    assert enqueued == [lost.claim_id]  # recorded, never sent: the message is lost

    sweeping = dataclasses.replace(
        via_celery, config=dataclasses.replace(via_celery.config, sweep_after_seconds=0)
    )
    assert adjudication.sweep(sweeping) >= 1

    row = decided_claim(via_celery, lost.claim_id, DECISION_TIMEOUT)
    assert row is not None and row.status == "paid"
