"""HTTP and D.0 TCP load: closed loop (N clients back to back) and open loop (a fixed
send schedule).

The client is deliberately cheap because it shares the machine's cores with the
server: one keep-alive http.client connection per thread (or, for a `tcp` target, one
persistent D.0 connection per thread, a frame out and its answer frame back), bodies
serialized before the clock starts, responses parsed only after the run.

Open loop: request i is due at t0 + i / rate whatever happened before it, and its
latency is counted from that due time, not from when a thread got round to sending
it. A server that stalls therefore shows the wait of every request queued behind the
stall (no coordinated omission). There are enough sender threads that, at the
offered rate, one is almost always free when a request falls due.
"""

from __future__ import annotations

import http.client
import itertools
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from adjudicator.adapters.d0_framing import Deframer

TRANSPORT_ERROR = 0  # the status recorded when no HTTP response came back
NOT_SENT = -1  # open loop: the request fell too far behind its due time to be sent
FRAME_ANSWERED = 200  # tcp: a non-empty answer frame came back
FRAME_EMPTY = 400  # tcp: the empty frame (STX ETX) of an unreadable header


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    path: str  # http only
    headers: dict[str, str]  # http only
    transport: str = "http"  # or "tcp": D.0 frames on a persistent connection


class Connection(Protocol):
    def post(self, body: bytes) -> tuple[int, bytes]: ...

    def close(self) -> None: ...


def connect(target: Target) -> Connection:
    """The client of one sender thread, for the target's transport."""
    return FrameClient(target) if target.transport == "tcp" else Client(target)


@dataclass
class Sample:
    status: int
    latency: float  # seconds: from the due time (open loop) or the send (closed loop)
    body: bytes


@dataclass
class Run:
    target: str
    mode: str
    samples: list[Sample]
    wall: float  # seconds from the first send to the last answer
    offered_rate: float | None = None  # open loop only
    late_sends: int = 0  # open loop: requests sent more than 10 ms after their due time
    not_sent: int = 0  # open loop: requests given up on (counted as infinitely slow)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sent(self) -> list[Sample]:
        return [s for s in self.samples if s.status != NOT_SENT]

    @property
    def throughput(self) -> float:
        """Answers per second (requests given up on are not answers)."""
        return len(self.sent) / self.wall if self.wall > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        latencies = sorted(s.latency for s in self.samples)
        if not latencies:
            return float("nan")
        rank = max(0, min(len(latencies) - 1, math.ceil(q / 100 * len(latencies)) - 1))  # nearest
        return latencies[rank] * 1000

    def status_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for sample in self.samples:
            counts[sample.status] = counts.get(sample.status, 0) + 1
        return dict(sorted(counts.items()))


class Client:
    """One keep-alive connection; reconnects when idle long enough to be closed."""

    IDLE_LIMIT = 1.0  # seconds; well below the web server's 30 s idle time-out

    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        self.target, self.timeout = target, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def post(self, body: bytes) -> tuple[int, bytes]:
        now = time.perf_counter()
        if self.conn is None or now - self.last_used > self.IDLE_LIMIT:
            self.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.target.port, self.timeout)
        try:
            self.conn.request("POST", self.target.path, body, self.target.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return TRANSPORT_ERROR, repr(error).encode()
        if response.will_close:
            self.close()
        self.last_used = time.perf_counter()
        return response.status, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class FrameClient:
    """D.0 over TCP: one persistent connection; each body is a whole frame (STX ... ETX),
    answered by one frame, in order. A status per answer, as HTTP's: FRAME_ANSWERED,
    FRAME_EMPTY, or TRANSPORT_ERROR (then the next body opens a new connection)."""

    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        self.target, self.timeout = target, timeout
        self.sock: socket.socket | None = None
        self.deframer = Deframer()
        self.answers: deque[bytes] = deque()

    def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.target.port), self.timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.deframer, self.answers = Deframer(), deque()
            self.sock.sendall(body)
            while not self.answers:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed by the server")
                self.answers.extend(self.deframer.feed(data))
        except OSError as error:
            self.close()
            return TRANSPORT_ERROR, repr(error).encode()
        frame = self.answers.popleft()
        return (FRAME_ANSWERED if frame else FRAME_EMPTY), frame

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def closed_loop(
    target: Target, bodies: Sequence[bytes], clients: int, time_limit: float = math.inf
) -> Run:
    """`clients` threads, each sending its next body as soon as the previous answer came.

    No new request starts after `time_limit` seconds (a slow server must not make the
    bench overrun its time budget); the bodies left over are simply not part of the run.
    """
    samples: list[Sample | None] = [None] * len(bodies)
    counter = itertools.count()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [math.inf]

    def worker() -> None:
        client = connect(target)
        start_gate.wait()
        try:
            while (i := next(counter)) < len(bodies) and time.perf_counter() < stop_at[0]:
                sent = time.perf_counter()
                status, data = client.post(bodies[i])
                samples[i] = Sample(status, time.perf_counter() - sent, data)
        finally:
            client.close()

    threads = _start(worker, clients)
    began = time.perf_counter()
    stop_at[0] = began + time_limit
    start_gate.wait()
    _join(threads)
    wall = time.perf_counter() - began
    done = [s for s in samples if s is not None]
    return Run(target.name, f"closed, {clients} clients", done, wall)


def open_loop(
    target: Target,
    bodies: Sequence[bytes],
    rate: float,
    senders: int = 48,
    give_up_after: float = 10.0,
) -> Run:
    """Send body i at t0 + i / rate; latency counted from that due time.

    A server slower than `rate` falls further behind with every request; once a
    request could only be sent `give_up_after` seconds after its due time, it and
    all later ones are not sent (latency infinite), which bounds the run's length.
    """
    samples: list[Sample | None] = [None] * len(bodies)
    counter = itertools.count()
    late = [0]
    behind = threading.Event()
    t0 = time.perf_counter() + 0.2  # every sender is waiting by then

    def worker() -> None:
        client = connect(target)
        try:
            while (i := next(counter)) < len(bodies):
                due = t0 + i / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                elif behind.is_set() or pause < -give_up_after:
                    behind.set()
                    samples[i] = Sample(NOT_SENT, math.inf, b"")
                    continue
                elif pause < -0.010:
                    late[0] += 1  # every sender was busy: the wait still counts below
                status, data = client.post(bodies[i])
                samples[i] = Sample(status, time.perf_counter() - due, data)
        finally:
            client.close()

    threads = _start(worker, senders)
    _join(threads)
    wall = time.perf_counter() - t0
    run = Run(target.name, f"open, {rate:g}/s", _done(samples), wall, offered_rate=rate)
    run.late_sends = late[0]
    run.not_sent = sum(1 for s in run.samples if s.status == NOT_SENT)
    return run


def _start(worker: Callable[[], None], count: int) -> list[threading.Thread]:
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _join(threads: list[threading.Thread]) -> None:
    # Join with a timeout so Ctrl-C reaches the main thread during a run.
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)


def _done(samples: list[Sample | None]) -> list[Sample]:
    missing = sum(1 for s in samples if s is None)
    if missing:
        raise RuntimeError(f"{missing} requests were never sent (a client thread died)")
    return [s for s in samples if s is not None]
