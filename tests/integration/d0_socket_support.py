"""A D.0 socket server on a free loopback port with the echo stand-in, and a client."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adjudicator.adapters.d0_framing import Deframer
from adjudicator.adapters.ncpdp_socket import D0Server, Handler, listen
from adjudicator.services.identity import Principal
from tests import d0_echo

PATIENCE = 20.0  # seconds any single wait may take before a test fails: generous


def echo_handler(caller: Principal, frame: bytes) -> bytes | None:
    return d0_echo.echo(caller, frame)


@contextmanager
def serving(
    handler: Handler = echo_handler, *, tls: ssl.SSLContext | None = None, **options: Any
) -> Iterator[D0Server]:
    listener = listen("127.0.0.1", 0, loopback_only=tls is None)
    server = D0Server(listener, handler, tls=tls, stop_grace_seconds=10, **options)
    thread = threading.Thread(target=server.serve_forever, name="d0-test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(PATIENCE)
        assert not thread.is_alive(), "the server did not stop"


def connect(server: D0Server, tls: ssl.SSLContext | None = None) -> socket.socket:
    sock = socket.create_connection(server.address, timeout=PATIENCE)
    if tls is not None:
        return tls.wrap_socket(sock, server_hostname="localhost")
    return sock


def read_frames(sock: socket.socket, count: int) -> list[bytes]:
    """The next `count` answers (their content, without STX/ETX); fails on EOF or silence."""
    deframer, frames = Deframer(), []
    sock.settimeout(PATIENCE)
    while len(frames) < count:
        data = sock.recv(65536)
        assert data, f"closed after {len(frames)} of {count} answers"
        frames.extend(deframer.feed(data))
    assert len(frames) == count and deframer.holding == 0
    return frames


def read_until_closed(sock: socket.socket) -> tuple[list[bytes], bool]:
    """(the answers read, whether the server closed) before PATIENCE runs out."""
    deframer, frames = Deframer(10**9), []
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except (ConnectionResetError, ssl.SSLError, OSError):
            return frames, True
        if not data:
            return frames, True
        frames.extend(deframer.feed(data))
    return frames, False


def frame(provider_id: str = "1234567893", body: str = "") -> bytes:
    return b"\x02" + d0_echo.request(provider_id, body) + b"\x03"


def provider(answer: bytes) -> str:
    return d0_echo.served(answer)[0]
