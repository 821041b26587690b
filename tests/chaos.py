"""`make chaos`: the real service under load while its parts are killed, then its promises.

Starts a Redis of its own (AOF on, a Unix socket under a temporary data dir) and
`adjudicator run` against it and a fresh SQLite ledger, enrolls patients, and sends bursts
of claims (synchronous and asynchronous), reversals and review approvals while it:
SIGKILLs a Celery child, SIGKILLs a gunicorn worker, SIGKILLs Redis and restarts it with
its AOF, and SIGKILLs Redis and restarts it wiped. Then it checks that every claim in the
ledger was decided, that no enrollment year paid past its maximum, that what the ledger paid
is what the benefit shows, and that `adjudicator accumulators check` is clean once the sweep
has healed the accumulators. Prints its figures as JSON; exits 1 if a check failed.

    python -m tests.chaos            # 40 patients, each fault three times: about 2 minutes
    python -m tests.chaos --short    # 12 patients, each fault once: about a minute (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import requests

from adjudicator.adapters.embedded_redis import EmbeddedRedis
from tests.e2e.helpers import claim_payload, enrollment_payload

BIN = Path(sys.executable).parent
PHARMACY = "pk_demo_pharmacy_key"  # what `adjudicator run` provisions
REVIEWER = "ut_demo_reviewer_token"
ANNUAL_MAX = Decimal("12000.00")
CLAIM = "700.00"  # 20 of them ask $14,000 of a $12,000 year


@dataclass(frozen=True)
class Plan:
    patients: int
    claims_each: int
    toddlers: int  # patients under two: their claims wait for a review (60)
    fault_every: float  # seconds between faults
    rounds: int  # times each of the four faults is made while the load runs

    @property
    def load_seconds(self) -> float:
        return self.fault_every * (4 * self.rounds + 1)


SHORT = Plan(patients=12, claims_each=20, toddlers=2, fault_every=4.0, rounds=1)
FULL = Plan(patients=40, claims_each=20, toddlers=6, fault_every=5.0, rounds=3)


@dataclass
class Tally:
    answers: Counter[str] = field(default_factory=Counter)
    faults: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.answers[what] += 1


class Service:
    """`adjudicator run` on its own Redis and ledger, and the means to hurt them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.redis = EmbeddedRedis(root / "redis")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ADJUDICATOR_DATA_DIR": str(root / "data"),
            "ADJUDICATOR_SWEEP_AFTER": "5",
            "ADJUDICATOR_SYNC_TIMEOUT": "3",
            # One pharmacy key and one staff token carry the whole load and the checks.
            "ADJUDICATOR_RATE_PHARMACY": "1000,10000",
            "ADJUDICATOR_RATE_STAFF": "1000,10000",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()

    def start(self) -> None:
        self.redis.start()
        self.env["REDIS_URL"] = self.redis.url
        log = open(self.root / "service.log", "wb")  # noqa: SIM115  # lives as long as the service
        self.process = subprocess.Popen(
            [str(BIN / "adjudicator"), "run", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.http.get(f"{self.url}/readyz", timeout=2).status_code == 200 and any(
                    "celery" in " ".join(p.cmdline()) for p in self._tree()
                ):
                    time.sleep(3)  # the worker's children and beat settle
                    return
            except requests.RequestException:
                pass  # not listening yet, or slow to answer while it starts
            time.sleep(0.5)
        raise RuntimeError("the service did not get ready; see " + str(self.root / "service.log"))

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.redis.stop()

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        for attempt in range(3 if method == "GET" else 1):  # a read may be asked again
            try:
                return self.http.request(
                    method, self.url + path, headers=headers, timeout=30, **kwargs
                )
            except requests.ConnectionError:  # a kept-alive connection to a killed worker
                if attempt == 2 or method != "GET":
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "adjudicator"), *args], env=self.env, capture_output=True, text=True
        )

    # --- faults ---------------------------------------------------------------------

    def kill_celery_child(self) -> str:
        """A child of the prefork pool (not the beat, also the worker's child)."""
        done = subprocess.run(
            [str(BIN / "celery"), "-A", "tasks.celery_app", "inspect", "stats", "--json"],
            env=self.env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        try:
            stats = json.loads(done.stdout)
            pool = [pid for node in stats.values() for pid in node["pool"]["processes"]]
        except (ValueError, KeyError, AttributeError):
            return "no pool answered"
        return _kill(psutil.Process(random.choice(pool)), "a Celery child")

    def kill_web_worker(self) -> str:
        workers = [
            p
            for p in self._tree()
            if "gunicorn" in " ".join(p.cmdline()) and "gunicorn" in " ".join(p.parent().cmdline())
        ]
        return _kill(random.choice(workers), "a web worker") if workers else "no web worker"

    def kill_redis(self, *, wipe: bool) -> str:
        server = psutil.Process(self.redis.pid)
        server.kill()
        server.wait(timeout=10)
        self.redis.stop()  # forget the dead process, so start() launches a new one
        if wipe:  # a fail-over to a replica without the writes, a lost AOF, a FLUSHALL
            for stale in (self.root / "redis").glob("appendonly*"):
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        time.sleep(1)
        self.redis.start()
        return "redis killed, back " + ("wiped" if wipe else "with its AOF")

    def _tree(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


def _kill(process: psutil.Process, what: str) -> str:
    process.kill()
    return f"killed {what} ({process.pid})"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the load ----------------------------------------------------------------------------


def enroll(service: Service, plan: Plan) -> tuple[list[str], list[str]]:
    """(adult cardholders, toddler cardholders)."""
    adults, toddlers = [], []
    for index in range(plan.patients):
        toddler = index < plan.toddlers
        payload = enrollment_payload(state="NY", effective_date="2026-01-01")
        if toddler:
            payload["patient"]["date_of_birth"] = "2025-06-01"
        answer = service.call("POST", "/v1/enrollments", REVIEWER, json=payload)
        answer.raise_for_status()
        (toddlers if toddler else adults).append(answer.json()["cardholder_id"])
    return adults, toddlers


def send_claim(service: Service, tally: Tally, cardholder: str, *, toddler: bool) -> None:
    payload = claim_payload(cardholder, drug=CLAIM)
    if toddler:
        payload["patient"] = {"date_of_birth": "2025-06-01"}
    asynchronous = random.random() < 0.5
    headers = {"Prefer": "respond-async"} if asynchronous else {}
    try:
        answer = service.call("POST", "/v1/claims", PHARMACY, json=payload, headers=headers)
    except requests.RequestException:
        tally.count("claim: no answer")  # the web worker was killed under it
        return
    tally.count(f"claim: {answer.status_code}")
    body = answer.json() if answer.status_code in (200, 202) else {}
    if body.get("status") == "paid" and random.random() < 0.1:
        reverse(service, tally, body["claim_id"])


def reverse(service: Service, tally: Tally, claim_id: str) -> None:
    try:
        answer = service.call("POST", f"/v1/claims/{claim_id}/reversal", PHARMACY)
        tally.count(f"reversal: {answer.status_code}")
    except requests.RequestException:
        tally.count("reversal: no answer")


def approve_reviews(service: Service, tally: Tally) -> None:
    try:
        queue = service.call("GET", "/v1/claims?review=open&limit=20", REVIEWER).json()["items"]
        for claim in queue:
            answer = service.call(
                "POST", f"/v1/claims/{claim['claim_id']}/review", REVIEWER,
                json={"action": "approve", "note": "chaos: seen the chart"},
            )  # fmt: skip
            tally.count(f"review: {answer.status_code}")
    except (requests.RequestException, ValueError, KeyError):
        tally.count("review: no answer")


def faults(service: Service, tally: Tally, plan: Plan, started: float) -> None:
    """The four faults in turn, `plan.rounds` times, one every `plan.fault_every` seconds
    from the start of the load (which is paced to outlast them)."""
    kinds = [
        service.kill_celery_child,
        service.kill_web_worker,
        lambda: service.kill_redis(wipe=False),
        lambda: service.kill_redis(wipe=True),
    ]
    for index in range(len(kinds) * plan.rounds):
        time.sleep(max(started + (index + 1) * plan.fault_every - time.monotonic(), 0))
        tally.faults.append(kinds[index % len(kinds)]())


# --- the checks --------------------------------------------------------------------------


def claims_of(service: Service, cardholder: str) -> list[dict[str, Any]]:
    path = f"/v1/claims?cardholder_id={cardholder}&limit=200"
    return service.call("GET", path, REVIEWER).json()["items"]  # type: ignore[no-any-return]  # JSON


def all_decided(service: Service, cardholders: list[str], within: float) -> dict[str, list]:
    deadline = time.monotonic() + within
    while True:
        claims = {c: claims_of(service, c) for c in cardholders}
        if all(claim["status"] != "received" for each in claims.values() for claim in each):
            return claims
        if time.monotonic() > deadline:
            return claims
        time.sleep(2)


def check(service: Service, cardholders: list[str]) -> tuple[dict[str, Any], list[str]]:
    started = time.monotonic()
    claims = all_decided(service, cardholders, within=150)
    decided_after = time.monotonic() - started
    failures = []
    undecided = [
        c["claim_id"] for each in claims.values() for c in each if c["status"] == "received"
    ]
    if undecided:
        failures.append(f"{len(undecided)} claims still received")
    years_paid = {}
    for cardholder, each in claims.items():
        paid = sum(Decimal(c["amounts"]["program_paid"]) for c in each if c["status"] == "paid")
        years_paid[cardholder] = paid
        if paid > ANNUAL_MAX:
            failures.append(f"{cardholder} paid {paid} in a ${ANNUAL_MAX} year")
    heal_started = time.monotonic()
    while (checked := service.cli("accumulators", "check")).returncode != 0:
        if time.monotonic() - heal_started > 60:
            failures.append("accumulators check: " + checked.stdout.strip()[:500])
            break
        time.sleep(2)
    healed_after = time.monotonic() - heal_started
    for cardholder, paid in years_paid.items():
        shown = service.call("GET", f"/v1/members/{cardholder}/benefit?date=2026-03-01", REVIEWER)
        used = Decimal(shown.json()["used"])
        if used != paid:
            failures.append(f"{cardholder}: the ledger paid {paid}, the benefit shows {used}")
    statuses = Counter(c["status"] for each in claims.values() for c in each)
    report = json.loads(checked.stdout or "{}")
    figures = {
        "claims_in_ledger": sum(statuses.values()),
        "by_status": dict(sorted(statuses.items())),
        "years_at_maximum": sum(1 for paid in years_paid.values() if paid == ANNUAL_MAX),
        "largest_year_paid": str(max(years_paid.values(), default=Decimal(0))),
        "seconds_to_decide_all_after_the_load": round(decided_after, 1),
        "seconds_to_heal": round(healed_after, 1),
        "ledger_corrections": report.get("ledger_corrections"),
    }
    return figures, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the short run CI makes")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    plan = SHORT if args.short else FULL
    random.seed(args.seed)
    root = Path(tempfile.mkdtemp(prefix="adjudicator-chaos-"))
    service = Service(root)
    tally = Tally()
    try:
        service.start()
        adults, toddlers = enroll(service, plan)
        jobs = [(c, False) for c in adults for _ in range(plan.claims_each)]
        jobs += [(c, True) for c in toddlers for _ in range(3)]
        random.shuffle(jobs)
        started = time.monotonic()
        hurting = threading.Thread(target=faults, args=(service, tally, plan, started))
        hurting.start()
        pace = plan.load_seconds / len(jobs)  # spread over every fault of the plan
        with ThreadPoolExecutor(8) as pool:
            for index, (cardholder, toddler) in enumerate(jobs):
                pool.submit(send_claim, service, tally, cardholder, toddler=toddler)
                if index % 50 == 49:
                    approve_reviews(service, tally)
                time.sleep(pace)
        hurting.join()
        approve_reviews(service, tally)
        load_seconds = time.monotonic() - started
        figures, failures = check(service, adults + toddlers)
    finally:
        service.stop()
    result = {
        "plan": plan.__dict__,
        "load_seconds": round(load_seconds, 1),
        "answers": dict(sorted(tally.answers.items())),
        "faults": tally.faults,
        **figures,
        "failures": failures,
        "passed": not failures,
    }
    print(json.dumps(result, indent=2))
    if not failures:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"kept {root} (service.log, the ledger, Redis)", file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
