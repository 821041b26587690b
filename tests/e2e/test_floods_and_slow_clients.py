"""A flood of asynchronous claims, and clients that trickle their requests, against a real
`adjudicator run` of its own (its own embedded Redis and ledger, and raised limits): other
callers' synchronous claims and /healthz still answer within a second."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import requests

from tests.e2e.conftest import Server, running_service
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    REVIEWER_TOKEN,
    claim_payload,
    enroll,
    new_pharmacy,
    rx_number,
)
from tests.ledgers import fresh_ledger

pytestmark = pytest.mark.e2e

FLOOD = 2000  # asynchronous claims from one pharmacy
SLOW_CLIENTS = 64
ANSWER_WITHIN = 1.0  # seconds


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, redis.Redis]]:
    """`adjudicator run` as a newcomer starts it (embedded Redis), with pharmacy limits
    raised so that one pharmacy may send the flood: (the server, a client of its Redis)."""
    folder = tmp_path_factory.mktemp("flood")
    data_dir = folder / "data"
    with fresh_ledger(folder, "flood") as database_url:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(
            DATABASE_URL=database_url,
            ADJUDICATOR_DATA_DIR=str(data_dir),
            ADJUDICATOR_RATE_PHARMACY="2000,4000",
            ADJUDICATOR_MAX_UNDECIDED=str(2 * FLOOD),
        )
        with running_service(env, folder / "server.log") as server:
            client = redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"))
            try:
                yield server, client
            finally:
                client.close()


def test_a_flood_of_async_claims_does_not_hold_back_another_pharmacys_sync_claims(service):
    server, broker = service
    flooding_patient = enroll(server)["cardholder_id"]
    patient = enroll(server)["cardholder_id"]
    other = new_pharmacy(server)
    sessions = threading.local()

    def send_async(_: int) -> int:
        session = getattr(sessions, "session", None) or requests.Session()
        sessions.session = session
        payload = claim_payload(flooding_patient, drug="10.00", rx=rx_number())
        response = session.post(
            server.base_url + "/v1/claims",
            json=payload,
            headers={"Authorization": f"Bearer {DEMO_PHARMACY_KEY}", "Prefer": "respond-async"},
            timeout=30,
        )
        return response.status_code

    sync_answers: list[tuple[int, str, float, int]] = []  # status, claim status, seconds, queued
    flooding = threading.Event()
    flooding.set()

    def send_sync_claims() -> None:
        while flooding.is_set() or broker.llen("claims-async") > 0:
            queued = int(broker.llen("claims-async"))
            payload = claim_payload(patient, drug="10.00", rx=rx_number(), npi=other["npi"])
            began = time.monotonic()
            response = server.call("POST", "/v1/claims", other["api_key"], json=payload)
            took = time.monotonic() - began
            claim = response.json().get("status", "")
            sync_answers.append((response.status_code, claim, took, queued))
            time.sleep(0.25)

    prober = threading.Thread(target=send_sync_claims)
    with ThreadPoolExecutor(max_workers=16) as pool:
        flood = pool.map(send_async, range(FLOOD))
        time.sleep(1.0)  # let a queue build up before the first synchronous claim
        prober.start()
        statuses = list(flood)
    flooding.clear()
    prober.join(timeout=180)

    assert statuses == [202] * FLOOD
    assert not prober.is_alive(), "the flood was not decided within 3 minutes"
    behind_a_queue = [answer for answer in sync_answers if answer[3] >= 200]
    assert len(behind_a_queue) >= 3, sync_answers  # the point: they met a real backlog
    slow = [answer for answer in sync_answers if answer[0] != 200 or answer[2] >= ANSWER_WITHIN]
    assert slow == [], f"(status, claim, seconds, queued) over {ANSWER_WITHIN}s: {slow}"
    assert {answer[1] for answer in sync_answers} == {"paid"}


def test_slow_clients_do_not_stop_health_checks_and_claims(service):
    server, _broker = service
    patient = enroll(server)["cardholder_id"]
    host, port = server.base_url.removeprefix("http://").split(":")
    body = b'{"cardholder_id": "' + b"x" * 200 + b'"}'
    # Half send their headers a byte a second; half send a pharmacy's claim's headers
    # whole, then its body a byte a second.
    get = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 300)
    post = (
        b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {DEMO_PHARMACY_KEY}\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode(),
        body,
    )
    half = SLOW_CLIENTS // 2
    slow = [_SlowClient(host, int(port), *kind) for kind in [get] * half + [post] * half]
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(1.0):
            for client in slow:
                client.send_a_byte()

    trickler = threading.Thread(target=trickle)
    trickler.start()
    answers: list[tuple[str, int, float]] = []
    try:
        time.sleep(2.5)  # every slow client has started sending
        for _ in range(3):
            answers.append(_timed(server, "GET", "/healthz"))
            payload = claim_payload(patient, drug="10.00", rx=rx_number())
            answers.append(_timed(server, "POST", "/v1/claims", json=payload))
            time.sleep(0.5)
    finally:
        stop.set()
        trickler.join()
        for client in slow:
            client.close()

    late = [answer for answer in answers if answer[1] != 200 or answer[2] >= ANSWER_WITHIN]
    assert late == [], f"(request, status, seconds) over {ANSWER_WITHIN}s: {late}"
    assert sum(client.still_open() for client in slow) >= SLOW_CLIENTS // 2  # still trickling


def test_a_staff_token_past_its_default_burst_gets_429_with_retry_after(service):
    # Last in this module: the reviewer token is spent for the next 5 seconds.
    server, _broker = service
    answers = [server.call("GET", "/v1/terms", REVIEWER_TOKEN) for _ in range(101)]

    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, "101 requests at once, and none refused"
    assert refused[0].headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused[0].headers["Retry-After"]) <= 5
    assert server.call("GET", "/healthz").status_code == 200  # no credential: not limited


class _SlowClient:
    """A connection that sends `opening` at once, then `trickled` a byte at a time."""

    def __init__(self, host: str, port: int, opening: bytes, trickled: bytes) -> None:
        self._socket = socket.create_connection((host, port))
        self._socket.sendall(opening)
        self._pending = trickled
        self._open = True

    def send_a_byte(self) -> None:
        if self._open and self._pending:
            byte, self._pending = self._pending[:1], self._pending[1:]
            try:
                self._socket.sendall(byte)
            except OSError:
                self._open = False

    def still_open(self) -> bool:
        return self._open

    def close(self) -> None:
        self._socket.close()


def _timed(server: Server, method: str, path: str, **kwargs: Any) -> tuple[str, int, float]:
    began = time.monotonic()
    try:
        status = server.call(method, path, DEMO_PHARMACY_KEY, timeout=5, **kwargs).status_code
    except requests.RequestException:
        status = 0
    return f"{method} {path}", status, time.monotonic() - began
