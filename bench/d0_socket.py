"""The D.0 socket server's shape, measured: many connections at once, each waiting on a
handler that blocks as the real one does on Redis, and what idle connections cost.

    .venv/bin/python -m bench.d0_socket [--connections 200] [--frames 20] [--wait-ms 50]

The handler is tests/d0_echo.py's stand-in after a sleep: this measures the transport."""

from __future__ import annotations

import argparse
import json
import resource
import socket
import threading
import time

from adjudicator.adapters.d0_framing import Deframer
from adjudicator.adapters.ncpdp_socket import D0Server, listen
from adjudicator.services.identity import Principal
from tests import d0_echo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--wait-ms", type=float, default=50.0)
    parser.add_argument("--idle", type=int, default=1000, help="idle connections to hold")
    args = parser.parse_args()

    def handler(caller: Principal, frame: bytes) -> bytes | None:
        time.sleep(args.wait_ms / 1000)
        return d0_echo.echo(caller, frame)

    server = D0Server(listen("127.0.0.1", 0, loopback_only=True), handler, max_connections=4096)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    latencies: list[float] = []
    lock = threading.Lock()

    def session() -> None:
        with socket.create_connection(server.address, timeout=60) as client:
            deframer = Deframer()
            for _ in range(args.frames):
                began = time.perf_counter()
                client.sendall(b"\x02" + d0_echo.request() + b"\x03")
                while not deframer.feed(client.recv(65536)):  # until its answer is whole
                    pass
                with lock:
                    latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    clients = [threading.Thread(target=session) for _ in range(args.connections)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    idle = [socket.create_connection(server.address, timeout=60) for _ in range(args.idle)]
    while server.connections < args.idle:
        time.sleep(0.05)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for sock in idle:
        sock.close()
    server.stop()
    print(
        json.dumps(
            {
                "connections": args.connections,
                "frames_each": args.frames,
                "handler_wait_ms": args.wait_ms,
                "seconds": round(elapsed, 2),
                "frames_per_second": round(args.connections * args.frames / elapsed),
                "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
                "max_ms": round(latencies[-1] * 1000, 1),
                "idle_connections": args.idle,
                "rss_growth_kib_per_idle_connection": round(
                    (rss_after - rss_before) / args.idle, 1
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
