"""`make bench`: synchronous claims end to end, against a bare-Flask baseline.

    python -m bench.claims [--clients 16] [--claims 2000] [--rate 100] [--duration 15]
                           [--patients 200] [--rounds 2] [--database-url URL]
                           [--redis-url URL] [--profile [DOOR]] [--keep]

    e.g. --database-url postgresql://postgres@127.0.0.1:5432/test
         --redis-url redis://127.0.0.1:6379/13   (an empty database: flushed afterwards)

1. Baseline: `bench.baseline_app` (Flask + ClaimRequestSchema only) under the very
   gunicorn command line `adjudicator run` uses for the web server.
2. Two skeletons (closed loop only, no bar), under `adjudicator run`'s gunicorn and
   worker command lines: `bench.skeleton_app`, the baseline plus a Celery round trip
   through a task that only wakes the request; and `bench.skeleton_ledger_app`, which
   adds the SQL and Redis work the architecture asks of every claim (stored `received`
   with its event, read by the task, reserved by the Lua script, recorded with its
   event). They show how much of the baseline the fixed shape leaves before any auth,
   rule or answer of the service's own runs.
3. End to end: `adjudicator run --ncpdp-port P` in a fresh temporary data dir, with no
   REDIS_URL or DATABASE_URL, so embedded Redis + SQLite, as a newcomer gets it (or
   against the PostgreSQL / Redis given by the flags). Waits for /readyz, a Celery ping
   and the D.0 port, adds a switch (`adjudicator switches add`), enrolls the patients
   over HTTP, warms up, then bills through three doors (bench/doors.py): JSON
   (`POST /v1/claims`), D.0 over HTTP (`POST /ncpdp/d0` with the switch's key) and D.0
   over TCP (one persistent connection per client thread, frames answered in order).
   The same claims go through each (D.0: the JSON request as `encode_claim` writes it),
   in --rounds interleaved rounds: every door's closed loop, then every door's open
   loop, the doors' order reversed in every other round; each door and round bills
   patients of its own, with the same amounts and dates in every door of a round.
The baseline and the service get the same two loads: closed loop (N clients back to back: claims/s)
and open loop (a fixed rate: latency from each request's due time). The baseline's
closed loop runs again after the end-to-end runs, and the ratio divides by the faster
of its two runs: on a shared machine a slow spell during one baseline run would
otherwise flatter the end-to-end figure. Afterwards the
answers are checked (every claim paid or rejected through every door, no 5xx, D.0
answers echo the Rx number sent, the ledger agrees door by door) and `adjudicator
accumulators check` runs against the same data.

Bars (the JSON door's first round): end-to-end throughput >= 20% of the baseline's;
p99 <= 100 ms at 100 claims/s. Reported, not a bar: each D.0 door's closed-loop claims/s
against JSON's in the same rounds (aim: within 10%), and its p50/p99 at the fixed rate.
Exit status 0 only when the answers are correct and both bars pass (1 otherwise, so
`make bench` fails with them). Results go to bench-results/claims-<time>.json, with a
Markdown table for the README; server CPU per claim by process role is measured from
/proc during every run. `--profile [json|d0-http|d0-tcp]` adds py-spy folded stacks of
that door's first closed loop, summarized by `python -m bench.profile_summary <file>`.

A run takes about 3.5 minutes on the 2-core development machine (2 rounds). However slow
the server, it stays bounded: each closed loop stops starting requests after
--closed-limit seconds, and each open loop gives up on requests over 10 s late.
Every process started is stopped on the way out, on failure, Ctrl-C or SIGTERM too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench import doors as bench_doors
from bench import stores, workload
from bench.load import NOT_SENT, TRANSPORT_ERROR, Run, Target, closed_loop, open_loop
from bench.procs import (
    BenchError,
    Interrupted,
    Server,
    Stoppable,
    cpu_delta,
    free_port,
    group_cpu,
    http_ok,
    machine_busy,
    raise_on_termination,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench-results"
PHARMACY_KEY = "pk_demo_pharmacy_key"
REVIEWER_TOKEN = "ut_demo_reviewer_token"
THROUGHPUT_BAR = 0.20  # end-to-end claims/s >= 20% of the baseline's (closed loop)
D0_AIM = 0.90  # D.0 claims/s >= 90% of JSON's in the same rounds: reported, not a bar
P99_BAR_MS = 100.0  # end-to-end p99 at the offered open-loop rate
SKELETONS = ("skeleton", "skeleton_ledger")  # the report's parts, leanest first
WARMUP_PATIENTS = 4
WARMUP_CLAIMS = 64


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    raise_on_termination()
    began = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="adj-bench-"))
    report: dict[str, Any] = _header(args)
    servers: list[Stoppable] = []
    try:
        report["baseline"] = _bench_baseline(args, scratch, servers)
        report["skeleton"] = _bench_skeleton(args, scratch, servers)
        report["skeleton_ledger"] = _bench_skeleton(args, scratch, servers, ledger=True)
        report["end_to_end"] = _bench_end_to_end(args, scratch, servers)
        # Measured on both sides of the end-to-end runs, and the faster one counts: a
        # machine that was slow for a while must not flatter the ratio.
        report["baseline_again"] = _bench_baseline(args, scratch, servers, again=True)
    except (KeyboardInterrupt, Interrupted) as stop:
        print(f"\ninterrupted ({str(stop) or 'SIGINT'}): stopping the servers", file=sys.stderr)
        return 130
    except BenchError as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the cleanup short: every server is stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for server in reversed(servers):
            server.stop()
        if args.keep:
            print(f"data and logs kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - began, 1)
    return _conclude(report)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients (16)")
    parser.add_argument("--claims", type=int, default=2000, help="closed-loop claims (2000)")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop claims/s (100)")
    parser.add_argument("--duration", type=float, default=15.0, help="open-loop seconds (15)")
    parser.add_argument(
        "--closed-limit",
        type=float,
        default=75.0,
        help="stop the closed loop early after this many seconds (75), to bound the run",
    )
    parser.add_argument("--patients", type=int, default=200, help="patients to enroll (200)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="end-to-end rounds (2): JSON, D.0 HTTP, D.0 TCP; the order reversed each round",
    )
    parser.add_argument("--seed", type=int, default=20260101, help="workload random seed")
    parser.add_argument("--database-url", help="run end to end against this database")
    parser.add_argument("--redis-url", help="run end to end against this Redis")
    parser.add_argument(
        "--profile",
        nargs="?",
        const=bench_doors.JSON,
        choices=(bench_doors.JSON, bench_doors.D0_HTTP, bench_doors.D0_TCP),
        help="py-spy the end-to-end server tree during the first closed loop of this door "
        "(json when not given; needs py-spy)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp data dir and logs")
    return parser


def _header(args: argparse.Namespace) -> dict[str, Any]:
    load = os.getloadavg()
    print(
        f"bench: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f}; "
        f"{args.claims} claims closed loop x {args.clients} clients, "
        f"{args.rate:g}/s open loop for {args.duration:g}s, {args.patients} patients"
    )
    if load[0] > 0.5:
        print("  warning: the machine is not idle; other work will skew these numbers")
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": _git_revision(),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            "clients": args.clients,
            "closed_loop_claims": args.claims,
            "open_loop_rate": args.rate,
            "open_loop_seconds": args.duration,
            "patients": args.patients,
            "seed": args.seed,
            "database": "external" if args.database_url else "sqlite (embedded default)",
            "redis": "external" if args.redis_url else "embedded (unix socket)",
        },
    }


# --- the baseline ------------------------------------------------------------------


def _web_command(port: int, app: str) -> list[str]:
    """The web server command line of `adjudicator run`, serving `app` instead."""
    from adjudicator.config import Config
    from adjudicator.launcher import _commands

    config = Config(data_dir=Path("."), database_url="sqlite://", redis_url=None)
    web = _commands(config, "127.0.0.1", port)[0]
    if web[-1] != "adjudicator.web.wsgi:app":
        raise BenchError(f"unexpected web command in adjudicator.launcher: {web}")
    return [*web[:-1], app]


def _bench_baseline(
    args: argparse.Namespace, scratch: Path, servers: list[Stoppable], again: bool = False
) -> dict[str, Any]:
    """Both loads; `again`: the closed loop only, re-measured after the end-to-end runs."""
    _step(
        "baseline again: closed loop, after the end-to-end runs"
        if again
        else "baseline: bare Flask + ClaimRequestSchema, same gunicorn settings"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    server = Server(
        "baseline", _web_command(port, "bench.baseline_app:app"), env, ROOT, scratch / "base.log"
    )
    servers.append(server.start())
    took = server.wait_until("/readyz", lambda: http_ok(port, "/readyz"), 30)
    _step(f"baseline ready in {took:.1f}s")
    target = _claims_target("baseline", port)
    rng = random.Random(args.seed)
    today = date.today()
    fake = workload.stand_ins(args.patients, rng, today)  # the baseline enrolls nobody
    closed_load, open_load = _claim_loads(args, fake, rng, "BASE", today)
    closed_loop(target, workload.claim_bodies(fake, 200, rng, "BASEWARM", today), args.clients)
    if again:
        runs = [_closed(args, target, [server], closed_load)]
        runs[0].mode += " (again)"
    else:
        runs = _both_loads(args, target, server, closed_load, open_load)
    server.stop()
    checks = {run.mode: _check_answers(run, ok_statuses={"accepted"}) for run in runs}
    return {"runs": [_run_summary(run) for run in runs], "checks": checks}


def _bench_skeleton(
    args: argparse.Namespace, scratch: Path, servers: list[Stoppable], ledger: bool = False
) -> dict[str, Any]:
    """The closed loop against a skeleton (bench/skeleton_app.py, or with `ledger`
    bench/skeleton_ledger_app.py) under `adjudicator run`'s command lines, on stores of
    its own: the architecture's floor, without or with the ledger and accumulator work."""
    name = "skeleton+ledger" if ledger else "skeleton"
    _step(
        f"{name}: the baseline + a Celery round trip"
        + (" + the claim's SQL writes and Lua reservation" if ledger else "")
        + " (no auth, rules or rendering)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    redis_store = _skeleton_redis(args, scratch / f"{name}-redis")
    servers.append(redis_store)
    env["REDIS_URL"] = redis_store.url
    if ledger:
        env["DATABASE_URL"] = _skeleton_ledger(args, scratch / f"{name}.db", servers)
    port = free_port()
    app = "bench.skeleton_ledger_app:app" if ledger else "bench.skeleton_app:app"
    web = Server(f"{name} web", _web_command(port, app), env, ROOT, scratch / f"{name}-web.log")
    worker_log = scratch / f"{name}-worker.log"
    worker = Server(f"{name} worker", _skeleton_worker_command(scratch), env, ROOT, worker_log)
    servers += [web.start(), worker.start()]
    web.wait_until("/readyz", lambda: http_ok(port, "/readyz"), 30)
    worker.wait_until("a Celery ping", lambda: _celery_ping(env), 60)
    target = _claims_target(name, port)
    rng = random.Random(args.seed)
    today = date.today()
    fake = workload.stand_ins(args.patients, rng, today)
    closed_load, _open = _claim_loads(args, fake, rng, "SKEL", today)
    closed_loop(target, workload.claim_bodies(fake, 200, rng, "SKELWARM", today), args.clients)
    run = _closed(args, target, [web, worker], closed_load)
    worker.stop()
    web.stop()
    redis_store.stop()  # an embedded server ends; a --redis-url database is flushed
    check = _check_answers(run, ok_statuses={"accepted"})
    return {"runs": [_run_summary(run)], "checks": {run.mode: check}}


def _skeleton_redis(args: argparse.Namespace, data_dir: Path) -> Any:
    """An empty Redis database of the skeleton's own: embedded, or the --redis-url one."""
    from adjudicator.adapters.embedded_redis import EmbeddedRedis

    if args.redis_url:
        return stores.RedisDatabase(args.redis_url)
    return EmbeddedRedis(data_dir).start()


def _skeleton_ledger(args: argparse.Namespace, path: Path, servers: list[Stoppable]) -> str:
    """A migrated ledger of the skeleton's own, holding the pharmacy the bench bills as."""
    from adjudicator.config import Config
    from adjudicator.launcher import _demo_credentials
    from adjudicator.services.setup import migrate

    url, schema = stores.database_url(args.database_url or f"sqlite:///{path}")
    if schema is not None:
        servers.append(schema)  # dropped when the bench ends
    assert url is not None
    config = Config(data_dir=path.parent, database_url=url, redis_url=None)
    migrate(config)
    _demo_credentials(config)  # `adjudicator run`'s pharmacy, which the bench bills as
    return url


def _skeleton_worker_command(scratch: Path) -> list[str]:
    """The Celery worker command line of `adjudicator run`, running the skeleton's app,
    without beat (its sweep reads a ledger the skeleton does not have)."""
    from adjudicator.config import Config
    from adjudicator.launcher import _commands

    config = Config(data_dir=scratch, database_url="sqlite://", redis_url=None)
    worker = _commands(config, "127.0.0.1", 0)[1]
    app_at = worker.index("-A") + 1
    schedule_at = worker.index("--schedule")
    if worker[app_at] != "tasks.celery_app" or "--beat" not in worker:
        raise BenchError(f"unexpected worker command in adjudicator.launcher: {worker}")
    worker[app_at] = "bench.skeleton_worker"
    del worker[schedule_at : schedule_at + 2]
    return [arg for arg in worker if arg != "--beat"]


# --- end to end --------------------------------------------------------------------


def _service_env(
    args: argparse.Namespace, data_dir: Path, servers: list[Stoppable]
) -> dict[str, str]:
    """A newcomer's environment (no REDIS_URL / DATABASE_URL / ADJUDICATOR_* settings),
    or the PostgreSQL / Redis of the flags, each isolated for this run."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL") and not k.startswith("ADJUDICATOR_")
    }
    env["ADJUDICATOR_DATA_DIR"] = str(data_dir)
    # One pharmacy key sends every claim and one staff token enrolls every patient, far
    # past the default rate limits: the limits are still checked, on budgets that hold.
    env["ADJUDICATOR_RATE_PHARMACY"] = env["ADJUDICATOR_RATE_STAFF"] = "100000,100000"
    env["ADJUDICATOR_RATE_SWITCH"] = "100000,100000"  # D.0 over HTTP and TCP
    if args.database_url:
        url, schema = stores.database_url(args.database_url)
        if schema is not None:
            servers.append(schema)  # dropped when the bench ends
        env["DATABASE_URL"] = url or ""
    if args.redis_url:
        database = stores.RedisDatabase(args.redis_url)
        servers.append(database)  # flushed when the bench ends
        env["REDIS_URL"] = database.url
    return env


def _bench_end_to_end(
    args: argparse.Namespace, scratch: Path, servers: list[Stoppable]
) -> dict[str, Any]:
    """The service, billed through its three doors in interleaved rounds: in each round
    every door's closed loop, then every door's open loop (the order reversed in every
    other round), each (door, round) on patients of its own so every phase reaches the
    cap alike. The bars read the JSON door's first round, as before the D.0 doors."""
    _step("end to end: adjudicator run --ncpdp-port (gunicorn, Celery, D.0 TCP, Redis, SQL)")
    port, ncpdp_port = free_port(), free_port()
    data_dir = scratch / "data"
    env = _service_env(args, data_dir, servers)
    cmd = [str(BIN / "adjudicator"), "run", "--port", str(port), "--ncpdp-port", str(ncpdp_port)]
    server = Server("adjudicator run", cmd, env, ROOT, scratch / "service.log")
    servers.append(server.start())
    startup: dict[str, float] = {}
    startup["readyz_s"] = server.wait_until("/readyz", lambda: http_ok(port, "/readyz"), 60)
    ping_env = {**env, "REDIS_URL": args.redis_url or _embedded_redis_url(data_dir)}
    startup["worker_s"] = server.wait_until("a Celery ping", lambda: _celery_ping(ping_env), 60)
    startup["d0_tcp_s"] = server.wait_until("D.0 TCP", lambda: _tcp_ok(ncpdp_port), 30)
    _step(
        f"ready: /readyz in {startup['readyz_s']:.1f}s, then the worker "
        f"{startup['worker_s']:.1f}s, D.0 TCP {startup['d0_tcp_s']:.1f}s"
    )
    doors = bench_doors.doors(port, ncpdp_port, PHARMACY_KEY, _switch_key(env))

    rng = random.Random(args.seed)
    today = date.today()
    # Rx numbers: tag (3 digits), door, round (0: warm-up), phase (1 closed, 2 open), then
    # 6 digits: 12 in all, as D.0's 402-D2 holds. The tag keeps a reused database's apart.
    tag = str(random.SystemRandom().randint(100, 999))
    phases = len(doors) * args.rounds
    t = time.monotonic()
    warmup = WARMUP_PATIENTS * len(doors)
    enrolled = workload.enroll(port, REVIEWER_TOKEN, warmup + args.patients * phases, rng, today)
    startup["enroll_s"] = time.monotonic() - t
    _step(f"enrolled {len(enrolled)} patients over HTTP in {startup['enroll_s']:.1f}s")
    cohorts = iter(enrolled[warmup + args.patients * n :][: args.patients] for n in range(phases))

    for at, door in enumerate(doors):
        patients = enrolled[WARMUP_PATIENTS * at : WARMUP_PATIENTS * (at + 1)]
        claims = workload.claim_bodies(patients, WARMUP_CLAIMS, rng, f"{tag}0{door.digit}0", today)
        warm = closed_loop(door.target, door.bodies(claims), 8)
        _step(f"warm-up {door.name}: {len(warm.samples)} claims, {warm.status_counts()}")

    phase_runs: list[_DoorRun] = []
    loads: dict[tuple[str, int], tuple[list[bytes], list[bytes]]] = {}
    for round_ in range(1, args.rounds + 1):
        for door in doors:
            # The same amounts and dates through every door in a round (a seed per round).
            claims_rng = random.Random(f"{args.seed}-{round_}")
            prefix = f"{tag}{door.digit}{round_}"
            loads[door.key, round_] = _claim_loads(args, next(cohorts), claims_rng, prefix, today)
    profiled: _Profiler | None = None
    for round_ in range(1, args.rounds + 1):
        order = doors if round_ % 2 else doors[::-1]
        _step(f"round {round_} of {args.rounds}: {', '.join(door.name for door in order)}")
        for door in order:
            claims = loads[door.key, round_][0]
            bodies = door.bodies(claims)
            if args.profile == door.key and profiled is None:  # its first closed loop only
                profiled = _Profiler(server.pid, scratch / "profile.folded")
                servers.append(profiled)
            run = _closed(args, door.target, [server], bodies)
            if profiled is not None:
                profiled.stop()
            phase_runs.append(_DoorRun(door, round_, "closed", run, claims))
        for door in order:
            claims = loads[door.key, round_][1]
            run = _open(args, door.target, server, door.bodies(claims))
            phase_runs.append(_DoorRun(door, round_, "open", run, claims))

    checks = {p.label: p.door.check(p.run, p.claims) for p in phase_runs}
    accumulators = _accumulators_check(env)
    ledger: dict[str, Any] = {}
    for door in doors:
        counted = _ledger_counts(env, f"{tag}{door.digit}")
        seen: Counter[str] = Counter()
        for p in phase_runs:
            if p.door is door:
                seen.update(door.outcomes([s.body for s in p.run.sent])["statuses"])
        counted["matches_answers"] = counted.get("by_status") == dict(sorted(seen.items()))
        ledger[door.key] = counted
    server.stop()
    return {
        "startup": {k: round(v, 2) for k, v in startup.items()},
        "runs": [p.summary() for p in phase_runs],
        "checks": checks,
        "accumulators_check": accumulators,
        "ledger": ledger,
        "profile": profiled.finish() if profiled else None,
    }


@dataclass
class _DoorRun:
    """One load through one door in one round, with the JSON claims it carried."""

    door: bench_doors.Door
    round: int
    loop: str  # "closed" or "open"
    run: Run
    claims: list[bytes]

    @property
    def label(self) -> str:
        return f"{self.door.name} {self.loop} round {self.round}"

    def summary(self) -> dict[str, Any]:
        summary = _run_summary(self.run)
        summary["mode"] = f"{summary['mode']}, round {self.round}"
        summary.update(door=self.door.key, round=self.round, loop=self.loop)
        summary["decisions"] = self.door.outcomes([s.body for s in self.run.sent])
        return summary


def _tcp_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _switch_key(env: dict[str, str]) -> str:
    """`adjudicator switches add --name bench`: the key D.0 over HTTP bills with."""
    done = subprocess.run(
        [str(BIN / "adjudicator"), "switches", "add", "--name", "bench"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        return str(json.loads(done.stdout.strip().splitlines()[-1])["api_key"])
    except (ValueError, IndexError, KeyError):
        said = f"{done.stdout[-500:]} {done.stderr[-1000:]}"
        raise BenchError(f"adjudicator switches add failed: {said}") from None


def _embedded_redis_url(data_dir: Path) -> str:
    from adjudicator.adapters.embedded_redis import socket_path_for

    # `adjudicator run` starts EmbeddedRedis(<data dir>/redis).
    return f"unix://{socket_path_for(data_dir.resolve() / 'redis')}?db=0"


def _celery_ping(env: dict[str, str]) -> bool:
    cmd = [str(BIN / "celery"), "-A", "tasks.celery_app", "inspect", "ping", "--timeout", "1"]
    try:
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def _accumulators_check(env: dict[str, str]) -> dict[str, Any]:
    """`adjudicator accumulators check` with the service's environment, while it runs."""
    _step("adjudicator accumulators check")
    done = subprocess.run(
        [str(BIN / "adjudicator"), "accumulators", "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(f"  exit {done.returncode}: {done.stdout.strip()[:2000]}")
    if done.stderr.strip():
        print("  " + done.stderr.strip()[-2000:])
    try:
        output = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        output = None
    ok = done.returncode == 0 and isinstance(output, dict) and not output.get("mismatches")
    return {"exit_code": done.returncode, "output": output, "ok": ok}


def _ledger_counts(env: dict[str, str], rx_prefix: str) -> dict[str, Any]:
    """The benchmarked claims (by Rx prefix) in the ledger, by status."""
    from sqlalchemy import func, select

    from adjudicator.adapters.db import make_engine
    from adjudicator.adapters.tables import claims
    from adjudicator.config import Config

    engine = make_engine(Config.from_env(env).database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(claims.c.status, func.count())
                .where(claims.c.rx_number.like(f"{rx_prefix}%"))
                .group_by(claims.c.status)
            ).all()
    finally:
        engine.dispose()
    return {"by_status": dict(sorted((status, count) for status, count in rows))}


# --- shared ------------------------------------------------------------------------


def _claims_target(name: str, port: int) -> Target:
    headers = {"Authorization": f"Bearer {PHARMACY_KEY}", "Content-Type": "application/json"}
    return Target(name, port, "/v1/claims", headers)


def _claim_loads(
    args: argparse.Namespace,
    patients: list[workload.Patient],
    rng: random.Random,
    prefix: str,
    today: date,
) -> tuple[list[bytes], list[bytes]]:
    """Bodies for the two loads, each on its own patients (both phases reach the cap)."""
    open_count = round(args.rate * args.duration)
    split = round(len(patients) * args.claims / (args.claims + open_count))
    split = min(max(split, 1), len(patients) - 1)
    closed = workload.claim_bodies(patients[:split], args.claims, rng, f"{prefix}1", today)
    opened = workload.claim_bodies(patients[split:], open_count, rng, f"{prefix}2", today)
    return closed, opened


def _both_loads(
    args: argparse.Namespace,
    target: Target,
    server: Server,
    closed_load: list[bytes],
    open_load: list[bytes],
    profiler: Any = None,
) -> list[Run]:
    closed = _closed(args, target, [server], closed_load)
    if profiler is not None:
        profiler.stop()
    return [closed, _open(args, target, server, open_load)]


def _open(args: argparse.Namespace, target: Target, server: Server, load: list[bytes]) -> Run:
    _step(f"{target.name}: open loop, {args.rate:g} claims/s for {args.duration:g}s")
    with _CpuMeter(server.pid) as meter:
        opened = open_loop(target, load, args.rate)
    opened.extra["cpu"] = meter.report(len(opened.sent))
    _print_run(opened)
    return opened


def _closed(
    args: argparse.Namespace, target: Target, servers: list[Server], load: list[bytes]
) -> Run:
    _step(f"{target.name}: closed loop, {len(load)} claims, {args.clients} clients")
    with _CpuMeter(*(server.pid for server in servers)) as meter:
        closed = closed_loop(target, load, args.clients, time_limit=args.closed_limit)
    if len(closed.samples) < len(load):
        print(f"  stopped after {args.closed_limit:g}s: {len(closed.samples)} claims sent")
    closed.extra["cpu"] = meter.report(len(closed.sent))
    _print_run(closed)
    return closed


class _CpuMeter:
    """CPU spent during a run: the server tree by role, this client, the whole machine."""

    def __init__(self, *pgids: int) -> None:
        self.pgids = pgids

    def _server_cpu(self) -> dict[int, tuple[str, float]]:
        return {pid: cpu for pgid in self.pgids for pid, cpu in group_cpu(pgid).items()}

    def __enter__(self) -> _CpuMeter:
        self.server = self._server_cpu()
        self.client = _own_cpu()
        self.machine = machine_busy()
        self.wall = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.monotonic() - self.wall
        self.server_spent = cpu_delta(self.server, self._server_cpu())
        self.client = _own_cpu() - self.client
        busy, total = machine_busy()
        self.machine = (busy - self.machine[0], total - self.machine[1])

    def report(self, requests: int) -> dict[str, Any]:
        server = sum(self.server_spent.values())
        busy, total = self.machine
        cores = total / self.wall if self.wall > 0 else 0.0  # what the machine had
        return {
            "server_ms_per_claim": {
                role: round(spent * 1000 / requests, 2)
                for role, spent in sorted(self.server_spent.items(), key=lambda kv: -kv[1])
            },
            "server_ms_per_claim_total": round(server * 1000 / requests, 2),
            "client_ms_per_claim": round(self.client * 1000 / requests, 2),
            "cores_used": {
                "server": round(server / self.wall, 2),
                "client": round(self.client / self.wall, 2),
                "other": round(max(busy - server - self.client, 0.0) / self.wall, 2),
                "machine_busy": round(busy / self.wall, 2),
                "machine_total": round(cores, 2),
            },
        }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _check_answers(run: Run, ok_statuses: set[str]) -> dict[str, Any]:
    """Every request answered 200 with one of `ok_statuses`; no 5xx, no transport error."""
    codes = {code: n for code, n in run.status_counts().items() if code != NOT_SENT}
    answered = workload.outcomes([s.body for s in run.sent if s.status == 200])["statuses"]
    good = sum(count for status, count in answered.items() if status in ok_statuses)
    server_errors = sum(count for code, count in codes.items() if code >= 500)
    return {
        "requests": len(run.sent),
        "not_sent": run.not_sent,
        "http_status": {str(k): v for k, v in codes.items()},
        "decided": good,
        "server_errors": server_errors,
        "transport_errors": codes.get(TRANSPORT_ERROR, 0),
        "ok": good == len(run.sent) and server_errors == 0,
    }


def _run_summary(run: Run) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "target": run.target,
        "mode": run.mode,
        "requests": len(run.sent),
        "seconds": round(run.wall, 2),
        "claims_per_s": round(run.throughput, 1),
        "p50_ms": _ms(run.percentile_ms(50)),
        "p95_ms": _ms(run.percentile_ms(95)),
        "p99_ms": _ms(run.percentile_ms(99)),
        "max_ms": _ms(run.percentile_ms(100)),
    }
    if run.offered_rate is not None:
        summary["offered_per_s"] = run.offered_rate
        summary["late_sends"] = run.late_sends
        summary["not_sent"] = run.not_sent
    if "cpu" in run.extra:
        summary["cpu"] = run.extra["cpu"]
    return summary


def _print_run(run: Run) -> None:
    print(
        f"  {len(run.sent)} requests in {run.wall:.1f}s: {run.throughput:.1f}/s, "
        f"p50 {_show(_ms(run.percentile_ms(50)))} p95 {_show(_ms(run.percentile_ms(95)))} "
        f"p99 {_show(_ms(run.percentile_ms(99)))} max {_show(_ms(run.percentile_ms(100)))} ms; "
        f"HTTP {run.status_counts()}"
        + (f"; {run.late_sends} sent late" if run.offered_rate else "")
        + (f"; {run.not_sent} NOT SENT (over 10 s behind)" if run.not_sent else "")
    )
    cpu = run.extra.get("cpu")
    if cpu:
        roles = ", ".join(f"{role} {ms:.1f}" for role, ms in cpu["server_ms_per_claim"].items())
        cores = cpu["cores_used"]
        print(
            f"  CPU ms/claim: server {cpu['server_ms_per_claim_total']:.1f} ({roles}); "
            f"client {cpu['client_ms_per_claim']:.1f}. Cores busy: server {cores['server']}, "
            f"client {cores['client']}, other {cores['other']} of {cores['machine_total']}"
        )


class _Profiler:
    """py-spy over the whole server tree during the closed loop (folded stacks)."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        cmd = [
            _py_spy(),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            "97",
            "--format",
            "raw",
            "--output",
            str(out),
        ]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def finish(self) -> dict[str, Any]:
        self.stop()
        RESULTS.mkdir(exist_ok=True)
        kept = RESULTS / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.folded"
        if self.out.exists():
            shutil.copy(self.out, kept)
        return {"folded_stacks": str(kept.relative_to(ROOT)) if kept.exists() else None}


def _py_spy() -> str:
    found = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if not found:
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


# --- the report --------------------------------------------------------------------


def _conclude(report: dict[str, Any]) -> int:
    # The bars read the JSON door's first round, as they did before there were rounds.
    e2e = {loop: _e2e_run(report, bench_doors.JSON, loop, 1) for loop in ("closed", "open")}
    baseline_closed = [r for r in _baseline_runs(report) if r["mode"].startswith("closed")]
    ratio = e2e["closed"]["claims_per_s"] / max(r["claims_per_s"] for r in baseline_closed)
    p99 = e2e["open"]["p99_ms"]  # None: over 1% of the requests could not even be sent
    offered = e2e["open"]["offered_per_s"]
    e2e_checks = report["end_to_end"]["checks"].values()
    correct = (
        all(c["ok"] for c in e2e_checks)
        and all(
            c["ok"]
            for part in ("baseline", *SKELETONS, "baseline_again")
            for c in report[part]["checks"].values()
        )
        and report["end_to_end"]["accumulators_check"]["ok"]
        and all(door["matches_answers"] for door in report["end_to_end"]["ledger"].values())
    )
    bars = {
        "throughput": {
            "bar": f"end-to-end claims/s >= {THROUGHPUT_BAR:.0%} of the baseline's",
            "ratio": round(ratio, 3),
            "pass": ratio >= THROUGHPUT_BAR,
        },
        "latency": {
            "bar": f"end-to-end p99 <= {P99_BAR_MS:g} ms at {offered:g} claims/s offered",
            "p99_ms": p99,
            "pass": p99 is not None and p99 <= P99_BAR_MS,
        },
        "correctness": {
            "bar": "every claim paid or rejected through every door, no 5xx, D.0 answers "
            "echo their Rx number, ledger and accumulators agree",
            "pass": correct,
        },
    }
    report["bars"] = bars
    report["d0"] = _d0_comparison(report)
    markdown = _markdown(report, ratio)
    report["markdown"] = markdown
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"claims-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")

    print()
    print(_table(report, ratio))
    print()
    for name, bar in bars.items():
        detail = {k: v for k, v in bar.items() if k not in ("bar", "pass")}
        print(f"{'PASS' if bar['pass'] else 'FAIL'}  {name}: {bar['bar']}  {detail or ''}")
    for line in _d0_lines(report):
        print(line)
    _print_correctness(report)
    print(f"\nMarkdown for the README:\n\n{markdown}")
    print(f"results: {path.relative_to(ROOT)} ({report['seconds']}s in all)")
    return 0 if all(bar["pass"] for bar in bars.values()) else 1


def _baseline_runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [*report["baseline"]["runs"], *report["baseline_again"]["runs"]]


def _e2e_run(report: dict[str, Any], door: str, loop: str, round_: int) -> dict[str, Any]:
    return next(
        r
        for r in report["end_to_end"]["runs"]
        if (r["door"], r["loop"], r["round"]) == (door, loop, round_)
    )


def _d0_comparison(report: dict[str, Any]) -> dict[str, Any]:
    """Each D.0 door against JSON, round by round (same round: same stretch of time):
    closed-loop claims/s and their ratio, open-loop p50/p99; and over all rounds, the
    ratio of the summed claims/s, which the aim (within 10% of JSON's) reads."""
    rounds = sorted({r["round"] for r in report["end_to_end"]["runs"]})
    compared: dict[str, Any] = {}
    for door in (bench_doors.D0_HTTP, bench_doors.D0_TCP):
        per_round = []
        for round_ in rounds:
            ours, theirs = (
                {loop: _e2e_run(report, key, loop, round_) for loop in ("closed", "open")}
                for key in (door, bench_doors.JSON)
            )
            per_round.append(
                {
                    "round": round_,
                    "claims_per_s": ours["closed"]["claims_per_s"],
                    "json_claims_per_s": theirs["closed"]["claims_per_s"],
                    "ratio": round(
                        ours["closed"]["claims_per_s"] / theirs["closed"]["claims_per_s"], 3
                    ),
                    "server_cpu_ms": ours["closed"]["cpu"]["server_ms_per_claim_total"],
                    "json_server_cpu_ms": theirs["closed"]["cpu"]["server_ms_per_claim_total"],
                    "open_p50_ms": ours["open"]["p50_ms"],
                    "open_p99_ms": ours["open"]["p99_ms"],
                    "json_open_p50_ms": theirs["open"]["p50_ms"],
                    "json_open_p99_ms": theirs["open"]["p99_ms"],
                }
            )
        ratio = sum(r["claims_per_s"] for r in per_round) / sum(
            r["json_claims_per_s"] for r in per_round
        )
        # The server CPU per claim moves less with other work on the machine than claims/s
        # do; on a machine the closed loop keeps busy, claims/s go as its inverse.
        cpu_ratio = sum(r["json_server_cpu_ms"] for r in per_round) / sum(
            r["server_cpu_ms"] for r in per_round
        )
        compared[door] = {
            "name": _e2e_run(report, door, "closed", 1)["target"],
            "rounds": per_round,
            "ratio": round(ratio, 3),
            "cpu_ratio": round(cpu_ratio, 3),
            "aim": f"claims/s within {1 - D0_AIM:.0%} of JSON's (closed loop, all rounds)",
            "aim_met": ratio >= D0_AIM,
        }
    return compared


def _d0_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for compared in report["d0"].values():
        rounds = ", ".join(
            f"round {r['round']} {r['ratio']:.1%} ({r['claims_per_s']:.1f} against "
            f"{r['json_claims_per_s']:.1f})"
            for r in compared["rounds"]
        )
        latency = ", ".join(
            f"round {r['round']} p50 {_show(r['open_p50_ms'])} / p99 {_show(r['open_p99_ms'])} "
            f"(JSON {_show(r['json_open_p50_ms'])} / {_show(r['json_open_p99_ms'])})"
            for r in compared["rounds"]
        )
        lines.append(
            f"{'MET ' if compared['aim_met'] else 'MISS'}  aim: {compared['name']} "
            f"{compared['aim']}: {compared['ratio']:.1%} of JSON's claims/s; {rounds}"
        )
        cpu = ", ".join(
            f"round {r['round']} {r['server_cpu_ms']:.1f} (JSON {r['json_server_cpu_ms']:.1f})"
            for r in compared["rounds"]
        )
        lines.append(
            f"      {compared['name']} server CPU ms/claim, closed loop: {cpu}; JSON's / its: "
            f"{compared['cpu_ratio']:.1%}"
        )
        lines.append(f"      {compared['name']} open loop, ms: {latency}")
    return lines


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    skeletons = [run for part in SKELETONS for run in report[part]["runs"]]
    return [*_baseline_runs(report), *skeletons, *report["end_to_end"]["runs"]]


def _skeleton_line(report: dict[str, Any]) -> str:
    """Where the skeletons stand between the baseline and the end-to-end service."""
    baseline = max(
        r["claims_per_s"] for r in _baseline_runs(report) if r["mode"].startswith("closed")
    )
    bare, ledger = (report[part]["runs"][0]["claims_per_s"] for part in SKELETONS)
    return (
        f"skeleton / faster baseline: {bare / baseline:.1%}, skeleton+ledger: "
        f"{ledger / baseline:.1%} (the fixed shape's ceilings for the ratio, without and with "
        "the claim's SQL writes and Lua reservation)"
    )


def _table(report: dict[str, Any], ratio: float) -> str:
    head = f"{'target':<15} {'mode':<29} {'requests':>8} {'claims/s':>9} "
    head += f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    lines = [head, "-" * len(head)]
    for r in _rows(report):
        lines.append(
            f"{r['target']:<15} {r['mode']:<29} {r['requests']:>8} {r['claims_per_s']:>9.1f} "
            f"{_show(r['p50_ms']):>8} {_show(r['p95_ms']):>8} {_show(r['p99_ms']):>8} "
            f"{_show(r['max_ms']):>8}"
        )
    lines.append(f"end-to-end / faster baseline throughput (closed loop): {ratio:.1%}")
    lines.append(_skeleton_line(report))
    return "\n".join(lines)


def _markdown(report: dict[str, Any], ratio: float) -> str:
    machine = report["machine"]
    lines = [
        "| target | mode | requests | claims/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in _rows(report):
        lines.append(
            f"| {r['target']} | {r['mode']} | {r['requests']} | {r['claims_per_s']:.1f} "
            f"| {_show(r['p50_ms'])} | {_show(r['p95_ms'])} | {_show(r['p99_ms'])} |"
        )
    bars = report["bars"]
    dropped = [r for r in _rows(report) if r.get("not_sent")]
    lines += [
        "",
        *(
            f"{r['target']} {r['mode']}: {r['not_sent']} more claims were due but never sent, "
            "the server being over 10 s behind schedule (counted as >10 s latency)."
            for r in dropped
        ),
        f"End-to-end throughput is {ratio:.1%} of the faster baseline closed loop "
        f"(bar >= {THROUGHPUT_BAR:.0%}: {'PASS' if bars['throughput']['pass'] else 'FAIL'}); "
        f"p99 at {report['config']['open_loop_rate']:g} claims/s is "
        f"{_show(bars['latency']['p99_ms'])} ms (bar <= {P99_BAR_MS:g} ms: "
        f"{'PASS' if bars['latency']['pass'] else 'FAIL'}).",
        _sentence(_skeleton_line(report)),
        *_d0_sentences(report),
        _cpu_line(report),
        f"{machine['cpus']} cores shared by client and server; "
        f"{report['config']['database']}, {report['config']['redis']} Redis; "
        f"`make bench`, {report['started_at'][:10]}.",
    ]
    return "\n".join(lines)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _d0_sentences(report: dict[str, Any]) -> list[str]:
    sentences = []
    for compared in report["d0"].values():
        rounds = compared["rounds"]
        sentences.append(
            f"{compared['name']}: {compared['ratio']:.1%} of JSON's claims/s over the "
            f"{len(rounds)} rounds (by round: "
            + ", ".join(f"{r['ratio']:.1%}" for r in rounds)
            + f"; aim >= {D0_AIM:.0%}: {'MET' if compared['aim_met'] else 'MISSED'}); "
            + f"server CPU per claim {_each(rounds, 'server_cpu_ms')} ms against JSON's "
            f"{_each(rounds, 'json_server_cpu_ms')} (JSON's / its: {compared['cpu_ratio']:.1%}); "
            f"p50 / p99 at {report['config']['open_loop_rate']:g}/s "
            + ", ".join(
                f"{_show(r['open_p50_ms'])} / {_show(r['open_p99_ms'])} ms "
                f"(JSON {_show(r['json_open_p50_ms'])} / {_show(r['json_open_p99_ms'])})"
                for r in rounds
            )
            + "."
        )
    return sentences


def _each(rounds: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{r[key]:.1f}" for r in rounds)


def _cpu_line(report: dict[str, Any]) -> str:
    """Server CPU per claim in the closed loops, the end-to-end ones by process role."""
    base = report["baseline"]["runs"][0]["cpu"]
    bare, ledger = (report[part]["runs"][0]["cpu"] for part in SKELETONS)
    doors = []
    for key in (bench_doors.JSON, bench_doors.D0_HTTP, bench_doors.D0_TCP):
        run = _e2e_run(report, key, "closed", 1)
        spent = run["cpu"]["server_ms_per_claim"].items()
        roles = ", ".join(f"{role} {ms:.1f}" for role, ms in spent if ms >= 0.1)
        doors.append(f"{run['target']} {run['cpu']['server_ms_per_claim_total']:.1f} ms ({roles})")
    other = _e2e_run(report, bench_doors.JSON, "closed", 1)["cpu"]["cores_used"]["other"]
    return (
        f"Server CPU per claim (closed loop): baseline {base['server_ms_per_claim_total']:.1f} ms, "
        f"skeleton {bare['server_ms_per_claim_total']:.1f} ms, "
        f"skeleton+ledger {ledger['server_ms_per_claim_total']:.1f} ms; round 1: "
        + "; ".join(doors)
        + f"; other work on the machine took {other:.2f} cores during the JSON closed loop."
    )


def _print_correctness(report: dict[str, Any]) -> None:
    e2e = report["end_to_end"]
    for label, check in e2e["checks"].items():
        echo = check.get("rx_echo_mismatches")
        print(
            f"  {label}: {check['decided']}/{check['requests']} paid or rejected, "
            f"{check['server_errors']} 5xx, {check['transport_errors']} transport errors, "
            f"status {check['status']}" + ("" if echo is None else f", {echo} D2 not echoed")
        )
    for run in e2e["runs"]:
        d = run["decisions"]
        print(
            f"  {run['target']} {run['mode']}: {d['statuses']}; {d['paid_limited_by_a_cap']} "
            f"paid in part at a cap; reject codes {d['reject_codes']}; "
            f"program paid ${d['program_paid']}"
        )
    for door, ledger in e2e["ledger"].items():
        print(
            f"  ledger, {door}: {ledger['by_status']} "
            f"(matches the answers: {ledger['matches_answers']})"
        )
    acc = e2e["accumulators_check"]
    print(f"  accumulators check: exit {acc['exit_code']}, {acc['output']}")


def _ms(value: float) -> float | None:
    """Milliseconds to one decimal; None for infinity (requests never sent)."""
    return None if math.isinf(value) or math.isnan(value) else round(value, 1)


def _show(value: float | None) -> str:
    return ">10000" if value is None else f"{value:.1f}"  # None: given up on after 10 s


def _step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _git_revision() -> str | None:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return done.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
