"""`adjudicator ncpdp serve` as a process: what it refuses to serve, plain and TLS serving
on the session's ledger and Redis, and a clean stop on SIGTERM. The D.0 service is the
real `services.ncpdp.answer`, so the frames sent here are ones whose header cannot be
read: their answer, an empty frame, is the transport's alone."""

from __future__ import annotations

import os
import queue
import re
import signal
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from adjudicator.services import identity
from adjudicator.services.runtime import Runtime
from tests.integration.builders import BIN, run_cli
from tests.integration.d0_socket_support import PATIENCE, read_frames, read_until_closed

pytestmark = pytest.mark.integration

UNREADABLE = b"\x02too short for a header\x03"


def test_plain_tcp_on_a_non_loopback_address_is_refused_with_exit_code_2(
    runtime: Runtime, redis_url: str, tmp_path: Path
):
    done = run_cli(
        runtime, redis_url, tmp_path, "ncpdp", "serve", "--host", "0.0.0.0", "--port", "0"
    )

    assert done.returncode == 2 and done.stdout == ""
    assert "not a loopback address" in done.stderr and "--tls-cert" in done.stderr


def test_tls_files_come_together(runtime: Runtime, redis_url: str, tmp_path: Path):
    done = run_cli(runtime, redis_url, tmp_path, "ncpdp", "serve", "--tls-cert", "x.pem")

    assert done.returncode == 2 and "together" in done.stderr


def test_unreadable_tls_files_are_refused(runtime: Runtime, redis_url: str, tmp_path: Path):
    args = ("--tls-cert", "nope.pem", "--tls-key", "nope.pem", "--client-ca", "nope.pem")
    done = run_cli(runtime, redis_url, tmp_path, "ncpdp", "serve", "--port", "0", *args)

    assert done.returncode == 2 and "TLS files" in done.stderr


@contextmanager
def _serving(runtime: Runtime, redis_url: str, tmp_path: Path, *args: str) -> Iterator[int]:
    """`adjudicator ncpdp serve --port 0 ARGS` running; its port. Stopped with SIGTERM,
    which must end it with exit code 0."""
    env = {
        **os.environ,
        "DATABASE_URL": runtime.config.database_url,
        "REDIS_URL": redis_url,
        "ADJUDICATOR_DATA_DIR": str(tmp_path / "cli"),
    }
    process = subprocess.Popen(
        [str(BIN / "adjudicator"), "ncpdp", "serve", "--port", "0", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stderr], daemon=True
    ).start()  # type: ignore[union-attr]  # stderr is a pipe
    try:
        while not (found := re.search(r"D\.0 over TCP on [^ ]+:(\d+)", lines.get(timeout=60))):
            pass
        yield int(found.group(1))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_plain_serving_answers_frames_closes_idle_ones_and_stops_on_sigterm(
    runtime: Runtime, redis_url: str, tmp_path: Path
):
    import socket

    with (
        _serving(runtime, redis_url, tmp_path, "--idle-timeout", "1") as port,
        socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as client,
    ):
        client.sendall(UNREADABLE + b"noise" + UNREADABLE)
        assert read_frames(client, 2) == [b"", b""]
        assert read_until_closed(client) == ([], True)  # idle for the second given


def test_tls_serves_a_registered_switchs_certificate_and_refuses_others(
    runtime: Runtime, redis_url: str, tmp_path: Path
):
    import socket

    name = f"cli-switch-{uuid.uuid4().hex[:8]}"
    identity.add_switch(runtime.ledger, name)
    ca = trustme.CA()
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "s.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    pem, ca_pem = str(tmp_path / "s.pem"), str(tmp_path / "ca.pem")

    def client_for(cn: str) -> ssl.SSLContext:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        ca.issue_cert("client.example", common_name=cn).configure_cert(context)
        return context

    tls = ("--tls-cert", pem, "--tls-key", pem, "--client-ca", ca_pem)
    with _serving(runtime, redis_url, tmp_path, *tls) as port:
        raw = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        with client_for(name).wrap_socket(raw, server_hostname="localhost") as client:
            client.sendall(UNREADABLE)
            assert read_frames(client, 1) == [b""]
        raw = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        try:
            with client_for(name + "-not").wrap_socket(raw, server_hostname="localhost") as other:
                other.sendall(UNREADABLE)
                answers, closed = read_until_closed(other)
            assert closed and answers == []
        except (ssl.SSLError, OSError):
            pass  # refused during the handshake: as good
