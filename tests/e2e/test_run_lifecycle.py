"""`adjudicator run` as a newcomer starts it (embedded Redis, SQLite): it stops as a whole."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import BIN, _free_port

pytestmark = pytest.mark.e2e


def test_when_the_embedded_redis_dies_run_stops_everything_and_says_so(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["ADJUDICATOR_DATA_DIR"] = str(tmp_path / "data")
    run = subprocess.Popen(
        [str(BIN / "adjudicator"), "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: what it leaves behind is findable
    )
    try:
        _wait_until_ready(port, run)
        redis_pid = int((tmp_path / "data" / "redis" / "redis.pid").read_text())
        os.kill(redis_pid, signal.SIGKILL)

        _, err = run.communicate(timeout=60)
        assert run.returncode == 1
        assert b"the embedded Redis exited" in err
        assert _group_empties(run.pid)  # gunicorn and Celery went with it
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()


def _wait_until_ready(port: int, run: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert run.poll() is None, "adjudicator run exited early"
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still starting
            pass
        time.sleep(0.3)
    raise AssertionError("adjudicator run was not ready within 60 s")


def _group_empties(pgid: int, within: float = 15.0) -> bool:
    """Whether no process of the group is left, waiting for stragglers (a Celery child
    finishes its exit a moment after its master)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True)
        if not found.stdout.split():
            return True
        time.sleep(0.2)
    return False


def test_run_with_an_ncpdp_port_serves_d0_on_loopback_and_stops_it_with_the_rest(
    tmp_path: Path,
) -> None:
    import socket

    port, d0_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["ADJUDICATOR_DATA_DIR"] = str(tmp_path / "data")
    run = subprocess.Popen(
        [str(BIN / "adjudicator"), "run", "--port", str(port), "--ncpdp-port", str(d0_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_until_ready(port, run)
        deadline = time.monotonic() + 60
        while True:  # the D.0 server starts beside the web: it may be a moment later
            try:
                client = socket.create_connection(("127.0.0.1", d0_port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline, "no D.0 server on the --ncpdp-port"
                time.sleep(0.3)
        with client:
            client.sendall(b"\x02too short\x03")  # unreadable header: answered by the transport
            answer = b""
            while not answer.endswith(b"\x03"):
                chunk = client.recv(100)
                assert chunk, "closed without an answer"
                answer += chunk
        assert answer == b"\x02\x03"

        os.kill(run.pid, signal.SIGTERM)
        out, _ = run.communicate(timeout=60)
        assert run.returncode == 0
        assert f"D.0 TCP   127.0.0.1:{d0_port}".encode() in out
        assert _group_empties(run.pid)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
