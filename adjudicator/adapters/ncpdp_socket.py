"""NCPDP D.0 over TCP (NCPDP.md, Transports): persistent connections, one transmission
per frame, answers framed STX + response + ETX in request order.

A thread per connection (docs/decisions.md #108): the handler blocks up to the sync
timeout waiting on Redis, and a connection answers its frames one after the other, so a
thread each is the plain shape; a slow or hostile client holds its own thread only, up to
`max_connections`. With TLS the client certificate is required and its subject CN must
be a registered switch; without TLS only loopback addresses are served and a connection
acts as the switch `loopback` (#107). Logs name peers and events, never a frame's bytes."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from adjudicator.adapters.d0_framing import MAX_FRAME_BYTES, Deframer, FrameTooLarge, framed
from adjudicator.services.identity import Principal, switch_principal

log = logging.getLogger(__name__)

Handler = Callable[[Principal, bytes], bytes | None]  # services.ncpdp.answer, bound to a runtime
LOOPBACK_SWITCH = "loopback"  # who a plain (loopback-only) connection acts as
IDLE_SECONDS = 300.0  # no complete frame for this long: the connection is closed
HANDSHAKE_SECONDS = 10.0
WRITE_SECONDS = 30.0  # a client that does not read its answers is let go after this
MAX_CONNECTIONS = 512
POLL_SECONDS = 0.25  # how often a waiting thread looks whether the server is stopping
STOP_GRACE_SECONDS = 60.0  # frames in progress may finish: a B3 of 4 groups waits 4 x 10 s


class RefusedBind(ValueError):
    """Plain TCP asked for an address that is not loopback."""


class Throttle(Protocol):
    def wait_turn(self, actor: str, stopping: threading.Event) -> bool: ...


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path


def tls_context(files: TlsFiles) -> ssl.SSLContext:
    """Server TLS that requires a client certificate issued by `client_ca`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    context.load_verify_locations(cafile=files.client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def listen(host: str, port: int, *, loopback_only: bool) -> socket.socket:
    """A listening socket; RefusedBind when `loopback_only` and `host` is not loopback."""
    any_address = host or None  # "": every interface
    addresses = socket.getaddrinfo(
        any_address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    if loopback_only and not all(_is_loopback(str(info[4][0])) for info in addresses):
        raise RefusedBind(
            f"{host!r} is not a loopback address: plain TCP binds 127.0.0.0/8, ::1 or "
            "localhost only; give --tls-cert, --tls-key and --client-ca to serve others"
        )
    family, kind, proto, _name, address = addresses[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def common_name(certificate: Mapping[str, Any] | None) -> str | None:
    """The subject CN of a peer certificate as ssl.getpeercert() gives it."""
    for rdn in (certificate or {}).get("subject", ()):  # relative names: (key, value) pairs
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class D0Server:
    """Serves D.0 frames on `listener` with `handler` until stop()."""

    def __init__(
        self,
        listener: socket.socket,
        handler: Handler,
        *,
        tls: ssl.SSLContext | None = None,
        is_switch: Callable[[str], bool] | None = None,
        throttle: Throttle | None = None,
        idle_seconds: float = IDLE_SECONDS,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
    ) -> None:
        if tls is not None and is_switch is None:
            raise ValueError("with TLS, is_switch must say which CNs are registered switches")
        self._listener = listener
        self._handler = handler
        self._tls = tls
        self._is_switch = is_switch
        self._throttle = throttle
        self._idle = idle_seconds
        self._max_frame = max_frame_bytes
        self._slots = threading.BoundedSemaphore(max_connections)
        self._grace = stop_grace_seconds
        self._stopping = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return host, port

    @property
    def connections(self) -> int:
        """Connections being served now."""
        with self._lock:
            return len(self._threads)

    def stop(self) -> None:
        """Stop accepting; each connection finishes the frame in progress and closes."""
        self._stopping.set()

    def serve_forever(self) -> None:
        self._listener.settimeout(POLL_SECONDS)
        try:
            while not self._stopping.is_set():
                try:
                    sock, peer = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError as error:  # e.g. out of file descriptors: try again shortly
                    log.warning("accept failed: %s", type(error).__name__)
                    self._stopping.wait(POLL_SECONDS)
                    continue
                self._start(sock, peer)
        finally:
            self._listener.close()
            deadline = time.monotonic() + self._grace
            for thread in self._running():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _running(self) -> list[threading.Thread]:
        with self._lock:
            return list(self._threads)

    def _start(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning(
                "connection from %s refused: %d connections open", peer[0], len(self._threads)
            )
            _close(sock)
            return
        thread = threading.Thread(
            target=self._serve, args=(sock, peer), name=f"d0-{peer[0]}:{peer[1]}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _serve(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        conn: socket.socket = sock
        try:
            caller = switch_principal(LOOPBACK_SWITCH)
            if self._tls is not None:
                conn = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                found = self._authenticate(conn, peer)
                if found is None:
                    return
                caller = found
            self._converse(conn, caller, peer[0])
        except Exception:  # never let one connection take the server down
            log.error("connection from %s ended by an error", peer[0], exc_info=True)
        finally:
            _close(conn)
            with self._lock:
                self._threads.discard(threading.current_thread())
            self._slots.release()

    def _authenticate(self, conn: ssl.SSLSocket, peer: tuple[str, int]) -> Principal | None:
        """The switch the client certificate names; None (refused, logged) otherwise."""
        conn.settimeout(HANDSHAKE_SECONDS)
        try:
            conn.do_handshake()
        except (ssl.SSLError, OSError) as error:  # no certificate, an unknown issuer, silence
            log.warning("TLS handshake with %s failed: %s", peer[0], type(error).__name__)
            return None
        name = common_name(conn.getpeercert())
        assert self._is_switch is not None
        if name is None or not self._is_switch(name):
            # A CN names a system, never a patient; cut and made printable to be safe.
            shown = "".join(c if c.isprintable() else "?" for c in (name or ""))[:100]
            log.warning(
                "client certificate of %s refused: CN %r is no registered switch", peer[0], shown
            )
            return None
        return switch_principal(name)

    def _converse(self, conn: socket.socket, caller: Principal, peer: str) -> None:
        """Answer the connection's frames in order until it closes, idles or overflows."""
        deframer = Deframer(self._max_frame)
        frames: deque[bytes] = deque()
        deadline = time.monotonic() + self._idle
        while not self._stopping.is_set():
            if frames:
                if not self._answer(conn, caller, frames.popleft()):
                    return
                deadline = time.monotonic() + self._idle  # idle: no complete frame for this long
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.info("connection from %s closed: no frame for %g s", peer, self._idle)
                return
            conn.settimeout(min(remaining, POLL_SECONDS))
            try:
                data = conn.recv(64 * 1024)
            except TimeoutError:
                continue
            except OSError:  # reset, or a TLS error: the client is gone
                return
            if not data:
                return
            try:
                frames.extend(deframer.feed(data))
            except FrameTooLarge:
                log.warning(
                    "connection from %s closed: a frame over %d bytes", peer, self._max_frame
                )
                return

    def _answer(self, conn: socket.socket, caller: Principal, frame: bytes) -> bool:
        """Answer one frame (an empty one for an unreadable header); False: close."""
        if self._throttle is not None and not self._throttle.wait_turn(
            caller.actor, self._stopping
        ):
            return False
        response = self._handler(caller, frame)
        conn.settimeout(WRITE_SECONDS)
        try:
            conn.sendall(framed(response or b""))
        except OSError:
            return False
        return True


def _close(sock: socket.socket) -> None:
    with suppress(OSError):  # already gone
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
