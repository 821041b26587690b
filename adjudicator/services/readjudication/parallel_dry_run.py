"""Dry runs on several cores: helper processes replay chunks, the job's process writes.

A large dry run is bound by Python's CPU time per claim (rules, amounts, caps), so the job
hands its chunks to helper processes (`python -m
adjudicator.services.readjudication.parallel_dry_run`, plain subprocesses: they also work
inside a Celery prefork worker, where multiprocessing may not start children) and records
their results in chunk order, so progress, resumption and the changes are exactly those of
a run in one process.

Protocol, JSON lines: the job writes `{"database_url", "date_from", "date_to",
"cardholder_id"}` once, then one cardholder list per chunk; the helper answers each chunk
with its tally (Tally.to_json: `{"claims", "before", "after", "changes"}`, each change as
Change.to_json writes it) and `"rss_mb"`, or `{"error"}`.

The package does not import this module (jobs.py imports it when a dry run needs
helpers): run with -m, it must not have been imported already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import date
from typing import IO, Any

from adjudicator.domain.replay import Window, terms_lookup
from adjudicator.services.readjudication.tally import Tally

PROCESSES_ENV = "ADJUDICATOR_REPLAY_PROCESSES"
MIN_CLAIMS = 20_000  # smaller dry runs are not worth starting helpers for
IN_FLIGHT = 2  # chunks queued per helper, so none waits for the next


def helper_count(total_claims: int) -> int:
    """How many helpers a dry run of `total_claims` gets (0: it runs in-process).

    ADJUDICATOR_REPLAY_PROCESSES sets it (1 or 0: in-process); by default a dry run of at
    least MIN_CLAIMS claims gets one helper per core, up to 4."""
    wanted = os.environ.get(PROCESSES_ENV, "").strip()
    if wanted:
        return int(wanted) if int(wanted) > 1 else 0
    count = min(os.cpu_count() or 1, 4)
    return count if count > 1 and total_claims >= MIN_CLAIMS else 0


class Helpers:
    """Helper processes replaying chunks; use as a context manager (they stop with it)."""

    def __init__(self, database_url: str, window: Window, count: int) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        self.peak_rss_mb = 0.0
        setup = {
            "database_url": database_url,
            "date_from": window.date_from.isoformat(),
            "date_to": window.date_to.isoformat(),
            "cardholder_id": window.cardholder_id,
        }
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
            self.processes.append(process)
            _send(process, setup)

    def __enter__(self) -> Helpers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            if process.stdin:
                process.stdin.close()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def replay(self, chunks: Iterable[list[str]]) -> Iterator[tuple[list[str], Tally]]:
        """Each chunk with its tally, in the order of `chunks`."""
        upcoming = iter(chunks)
        waiting: deque[tuple[subprocess.Popen[str], list[str]]] = deque()
        for process in self.processes * IN_FLIGHT:
            if (chunk := next(upcoming, None)) is None:
                break
            _send(process, chunk)
            waiting.append((process, chunk))
        while waiting:
            process, chunk = waiting.popleft()
            result = _receive(process)
            self.peak_rss_mb = max(self.peak_rss_mb, result.get("rss_mb", 0.0))
            if (following := next(upcoming, None)) is not None:
                _send(process, following)
                waiting.append((process, following))
            yield chunk, Tally.from_json(result)


def _send(process: subprocess.Popen[str], message: Any) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()


def _receive(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"a replay helper stopped (exit status {process.poll()})")
    result: dict[str, Any] = json.loads(line)
    if "error" in result:
        raise RuntimeError(f"a replay helper failed: {result['error']}")
    return result


# --- the helper's side -----------------------------------------------------------------


def main(requests: IO[str] = sys.stdin, answers: IO[str] = sys.stdout) -> int:
    from adjudicator.adapters.db import make_engine
    from adjudicator.adapters.sql_ledger import SqlLedger
    from adjudicator.services import terms
    from adjudicator.services.readjudication.load import load_replays

    setup = json.loads(requests.readline())
    window = Window(
        date.fromisoformat(setup["date_from"]),
        date.fromisoformat(setup["date_to"]),
        setup["cardholder_id"],
    )
    ledger = SqlLedger(make_engine(setup["database_url"], pool_size=1))
    with ledger.reading() as uow:
        terms_on = terms_lookup(terms.all_versions(uow))
    for line in requests:
        try:
            with ledger.reading() as uow:
                replays = load_replays(uow.jobs, json.loads(line), window, terms_on)
            tally = Tally()
            for replay in replays.values():
                tally.add(replay.years)
            answer: dict[str, Any] = {**tally.to_json(), "rss_mb": peak_rss_mb()}
        except Exception as error:  # the job fails with it, visibly
            answer = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    ledger.dispose()
    return 0


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), 0.0 where /proc does not tell it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
