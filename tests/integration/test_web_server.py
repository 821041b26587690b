"""gunicorn with adjudicator.web.server.WaitressWorker, on a tiny app of this module:
slow clients hold no thread, a worker told to stop finishes what it is answering, and a
worker that dies is replaced."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """/slow answers after a second, anything else at once."""
    if environ["PATH_INFO"] == "/slow":
        time.sleep(1.0)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{os.getpid()}".encode()]


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    command += ["--worker-class", "adjudicator.web.server.WaitressWorker"]
    command += ["--graceful-timeout", "10", f"{__name__}:app"]
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115  # closed below, after the server
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while _get(port, "/", timeout=1) is None:
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.1)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _get(port: int, path: str, timeout: float = 5) -> tuple[int, str] | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    except OSError:
        return None


def test_slow_clients_hold_no_thread(gunicorn):
    port, _server = gunicorn
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]  # > 16 threads
    try:
        for client in slow:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        began = time.monotonic()
        answer = _get(port, "/")
        assert answer is not None and answer[0] == 200
        assert time.monotonic() - began < 1
    finally:
        for client in slow:
            client.close()


def test_a_worker_told_to_stop_finishes_the_request_it_is_answering(gunicorn):
    port, _server = gunicorn
    worker = int(_get(port, "/")[1])  # type: ignore[index]  # the server is up
    answers: list[tuple[int, str] | None] = []
    request = threading.Thread(target=lambda: answers.append(_get(port, "/slow")))
    request.start()
    time.sleep(0.3)  # the request is in the app

    os.kill(worker, signal.SIGTERM)
    request.join()

    assert answers == [(200, str(worker))]
    deadline = time.monotonic() + 10
    while _alive(worker):
        assert time.monotonic() < deadline, "the worker did not stop"
        time.sleep(0.05)


def test_a_worker_that_dies_is_replaced(gunicorn):
    port, _server = gunicorn
    worker = int(_get(port, "/")[1])  # type: ignore[index]  # the server is up

    os.kill(worker, signal.SIGKILL)

    deadline = time.monotonic() + 15
    while (answer := _get(port, "/", timeout=1)) is None or answer[1] == str(worker):
        assert time.monotonic() < deadline, "no new worker"
        time.sleep(0.1)
    assert answer[0] == 200


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie until gunicorn reaps it: gone all the same.
    return "zombie" not in Path(f"/proc/{pid}/status").read_text(errors="replace").lower()
