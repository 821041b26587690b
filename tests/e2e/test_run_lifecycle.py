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
