"""A real server for end-to-end tests: `adjudicator run` (gunicorn + a Celery worker)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

BIN = Path(sys.executable).parent
DEMO_PHARMACY_KEY = "pk_demo_pharmacy_key"
DEMO_PHARMACY_NPI = "1234567893"
REVIEWER_TOKEN = "ut_demo_reviewer_token"
ADMIN_TOKEN = "ut_demo_admin_token"


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    session: requests.Session = field(default_factory=requests.Session)
    d0_port: int | None = None  # `run --ncpdp-port`: D.0 over plain TCP on 127.0.0.1
    pid: int | None = None  # the `adjudicator run` process (its children are ours too)

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, headers=headers, **kwargs)

    def cli(self, *args: str) -> dict[str, Any]:
        """Run the `adjudicator` command against this server's ledger; its JSON output."""
        done = subprocess.run(
            [str(BIN / "adjudicator"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(done.stdout)  # type: ignore[no-any-return]  # JSON is Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def fresh_accumulators(database_url: str, redis_url: str) -> None:
    """Drop accumulators a previous session left in a shared Redis (REDIS_URL).

    The ledger is rebuilt empty for each session, so members of earlier runs are gone
    from it; their `acc:{IC...}` hashes would otherwise show as mismatches in
    `adjudicator accumulators check`. Only enrollment-made cardholder ids (IC + 10
    digits) that the ledger does not know are touched.
    """
    import re

    import redis
    from sqlalchemy import select

    from adjudicator.adapters.accumulator import Accumulator, accumulator_key
    from adjudicator.adapters.db import make_engine
    from adjudicator.adapters.tables import members

    engine = make_engine(database_url)
    client = redis.Redis.from_url(redis_url)
    try:
        with engine.connect() as conn:
            known = set(conn.execute(select(members.c.cardholder_id)).scalars())
        for cardholder_id in list(Accumulator(client).cardholders()):
            if re.fullmatch(r"IC[0-9]{10}", cardholder_id) and cardholder_id not in known:
                client.delete(accumulator_key(cardholder_id))
    finally:
        client.close()
        engine.dispose()


@pytest.fixture(scope="session")
def server(
    database_url: str, redis_url: str, data_dir: Path, fresh_accumulators: None
) -> Iterator[Server]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ADJUDICATOR_DATA_DIR": str(data_dir / "server"),
        "ADJUDICATOR_SWEEP_AFTER": "5",
        # These tests share one demo pharmacy key and one reviewer token, polling as they
        # go: far past a credential's default rate (test_floods_and_slow_clients.py shows
        # the defaults at work; tests/integration/test_rate_limits.py the limits in full).
        "ADJUDICATOR_RATE_PHARMACY": "1000,10000",
        "ADJUDICATOR_RATE_STAFF": "1000,10000",
    }
    with running_service(env, data_dir / "server.log", ncpdp=True) as running:
        yield running


@contextmanager
def running_service(
    env: dict[str, str], log_path: Path, *, ncpdp: bool = False
) -> Iterator[Server]:
    """`adjudicator run` with `env` on a free port, until the block ends. Without REDIS_URL
    it starts its own embedded Redis, which the server's `cli` and Celery ping then use.
    With `ncpdp`, it also serves D.0 over TCP on a free loopback port (`server.d0_port`)."""
    port = _free_port()
    d0_port = _free_port() if ncpdp else None
    embedded = f"unix://{Path(env['ADJUDICATOR_DATA_DIR']) / 'redis' / 'redis.sock'}?db=0"
    command = [str(BIN / "adjudicator"), "run", "--port", str(port)]
    if d0_port is not None:
        command += ["--ncpdp-port", str(d0_port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Server(
        f"http://127.0.0.1:{port}", {"REDIS_URL": embedded, **env}, d0_port=d0_port, pid=process.pid
    )
    try:
        _wait_ready(running, process, log_path)
        if d0_port is not None:
            _wait_listening(d0_port, process, log_path)
        yield running
    finally:
        running.session.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: Server, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-4000:]}")
        try:
            if server.call("GET", "/readyz").status_code == 200 and _worker_answers(server):
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready:\n{log_path.read_text()[-4000:]}")


def _wait_listening(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """The D.0 server starts beside the web: it may accept a moment later."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-4000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no D.0 server on port {port}:\n{log_path.read_text()[-4000:]}")


def _worker_answers(server: Server) -> bool:
    # The web side is up; the worker is ready once `celery inspect ping` gets a reply.
    done = subprocess.run(
        [str(BIN / "celery"), "-A", "tasks.celery_app", "inspect", "ping", "--timeout", "1"],
        env=server.env,
        capture_output=True,
        timeout=30,
    )
    return done.returncode == 0


@pytest.fixture(scope="session")
def switch_key(server: Server) -> str:
    """The API key of a switch registered on the session's server (NCPDP.md, HTTP)."""
    return str(server.cli("switches", "add", "--name", "e2e-switch")["api_key"])


@pytest.fixture(scope="session")
def second_pharmacy(server: Server) -> dict[str, Any]:
    """Another in-network pharmacy: `{"npi", "name", "chain", "api_key"}`."""
    from tests.e2e.helpers import new_pharmacy

    return new_pharmacy(server, chain="cvs_specialty")
