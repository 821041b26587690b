"""Batch re-adjudication jobs: create one, run it (Celery `batch` queue or the CLI), read it.

A job replays every patient-year touched by its window (domain/replay.py) in chunks of
cardholders. `dry_run` records each changed claim and the summary and changes nothing else;
`apply` also writes the new decisions and sets the accumulators (apply.py).
Progress and the summary live in the job row, updated with each chunk in the transaction
that records the chunk's changes, so a redelivered task resumes where the last one stopped
and never counts a claim twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from adjudicator.adapters import ledger
from adjudicator.adapters import readjudication as jobs_sql
from adjudicator.adapters.db import reading
from adjudicator.adapters.sql_ledger import SqlUnitOfWork
from adjudicator.domain.replay import Window, terms_lookup
from adjudicator.services import cursors, terms
from adjudicator.services.errors import NotFound
from adjudicator.services.readjudication.apply import Applier, LeaseLost, Tally, load_replays
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a worker that stops renewing it loses the job to the next
CHUNK_CARDHOLDERS = 100
SCOPE_BATCH = 1000  # cardholders written per transaction when a job lists its scope
ERROR_CHARS = 500

Progress = Callable[[int, int], None]  # (done, total) claims


# --- create and read ------------------------------------------------------------------


def create(rt: Runtime, data: dict[str, Any], actor: str) -> dict[str, Any]:
    """A queued job; the caller sends its id to the batch queue (or runs it)."""
    job_id = uuid.uuid4().hex
    with rt.engine.begin() as conn:
        jobs_sql.insert_job(
            conn,
            job_id=job_id,
            mode=data["mode"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            cardholder_id=data.get("cardholder_id"),
            created_by=actor,
        )
        return view(_job(conn, job_id))


def get(rt: Runtime, job_id: str) -> dict[str, Any]:
    with reading(rt.engine) as conn:
        return view(_job(conn, job_id))


def recent(rt: Runtime, limit: int = 20) -> list[dict[str, Any]]:
    """The latest jobs, newest first (for listings such as the console's)."""
    with reading(rt.engine) as conn:
        return [view(row) for row in jobs_sql.recent_jobs(conn, limit)]


def changes(rt: Runtime, job_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """The job's changed claims in the order it found them, cursor-paged."""
    with reading(rt.engine) as conn:
        _job(conn, job_id)
        rows = jobs_sql.changes_page(conn, job_id, cursors.decode(cursor), limit + 1)
    page = rows[:limit]
    return {
        "items": [
            {
                "claim_id": row.claim_id,
                "cardholder_id": row.cardholder_id,
                "date_of_service": row.date_of_service,
                "before": {"status": row.before_status, "program_paid": row.before_program_paid},
                "after": {"status": row.after_status, "program_paid": row.after_program_paid},
            }
            for row in page
        ],
        "next_cursor": cursors.encode(page[-1].seq) if len(rows) > limit else None,
    }


def view(row: Any) -> dict[str, Any]:
    """The API shape of a job: money in cents, dates as dates."""
    return {
        "job_id": row.job_id,
        "status": row.status,
        "mode": row.mode,
        "date_from": row.date_from,
        "date_to": row.date_to,
        "cardholder_id": row.cardholder_id,
        "progress": {"total": max(row.total, row.done), "done": row.done},
        "summary": {
            "claims": row.done,
            "unchanged": row.unchanged,
            "changed": row.changed,
            "program_paid_before": row.program_paid_before,
            "program_paid_after": row.program_paid_after,
            "delta": row.program_paid_after - row.program_paid_before,
        },
        "error": row.error,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "links": {
            "self": f"/v1/readjudications/{row.job_id}",
            "changes": f"/v1/readjudications/{row.job_id}/changes",
        },
    }


def _job(conn: Connection, job_id: str) -> Any:
    row = jobs_sql.job(conn, job_id)
    if row is None:
        raise NotFound("no re-adjudication job with this id")
    return row


# --- run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    status: str  # the job's status when this call ends, or "busy"
    retry_in: float | None = None  # busy: another worker holds the job's lease this long
    helper_peak_rss_mb: float = 0.0  # a dry run's helper processes: the largest one's peak


def run(rt: Runtime, job_id: str, on_progress: Progress | None = None) -> RunResult:
    """Run or resume a job to its end; idempotent by job id (a finished job is left alone)."""
    runner = uuid.uuid4().hex
    with rt.engine.begin() as conn:
        row = _job(conn, job_id)
        if row.status in ("succeeded", "failed"):
            return RunResult(row.status)
        if not jobs_sql.claim_job(conn, job_id, runner, _lease()):
            return RunResult("busy", _seconds_left(row.lease_until))
    resumed = row.status == "running"
    log.info("re-adjudication started", extra={"job_id": job_id, "mode": row.mode})
    try:
        if row.total == 0 and row.done == 0:  # a fresh job, or one that died listing
            _list_scope(rt, row, runner)
        with reading(rt.engine) as conn:
            job = _Job(rt, _job(conn, job_id), runner, on_progress)
        job.run(resumed)
    except LeaseLost:
        log.warning("re-adjudication job taken over", extra={"job_id": job_id})
        return RunResult("running")
    except Exception as error:
        log.error("re-adjudication failed: %s", type(error).__name__, exc_info=error)
        _finish(rt, job_id, runner, "failed", _error_text(error))
        return RunResult("failed")
    _finish(rt, job_id, runner, "succeeded", None)
    log.info("re-adjudication succeeded", extra={"job_id": job_id})
    return RunResult("succeeded", helper_peak_rss_mb=job.helper_peak_rss_mb)


def _list_scope(rt: Runtime, row: Any, runner: str) -> None:
    """Write down the job's cardholders and count its claims, once, from one snapshot.

    Read in a read-only transaction and written in small ones: on SQLite a single
    INSERT ... SELECT over a large ledger would hold the write lock (and every pharmacy
    claim) for as long as the scan takes."""
    window = (row.date_from, row.date_to, row.cardholder_id)
    with rt.engine.begin() as conn:
        jobs_sql.forget_scope(conn, row.job_id)
    with reading(rt.engine, stream_results=True, yield_per=SCOPE_BATCH) as reader:
        batch: list[str] = []
        for cardholder in jobs_sql.scope_cardholders(reader, *window):
            batch.append(cardholder)
            if len(batch) == SCOPE_BATCH:
                _add_scope(rt, row.job_id, batch)
                batch = []
        _add_scope(rt, row.job_id, batch)
        total = jobs_sql.count_in_scope(reader, *window)
    with rt.engine.begin() as conn:
        if not jobs_sql.update_running_job(conn, row.job_id, runner, total=total):
            raise LeaseLost(row.job_id)


def _add_scope(rt: Runtime, job_id: str, cardholders: list[str]) -> None:
    with rt.engine.begin() as conn:
        jobs_sql.add_scope(conn, job_id, cardholders)


class _Job:
    def __init__(self, rt: Runtime, row: Any, runner: str, on_progress: Progress | None) -> None:
        self.rt = rt
        self.row = row
        self.window = Window(row.date_from, row.date_to, row.cardholder_id)
        with reading(rt.engine) as conn:
            self.terms_on = terms_lookup(terms.all_versions(SqlUnitOfWork(conn)))
        self.applier = Applier(rt, row.job_id, runner, self.window, self.terms_on, _lease)
        self.on_progress = on_progress
        self.done, self.total = row.done, row.total
        self.helper_peak_rss_mb = 0.0

    def run(self, resumed: bool) -> None:
        if self.row.mode == "apply":
            if resumed and self.row.resume_after:
                # The last run may have died between a SQL commit and its Redis step.
                self.applier.resync(self.row.resume_after)
            for cardholders in self._chunks():
                self._progress(self.applier.apply_chunk(cardholders))
            return
        # Imported here: the helpers run that module with -m, so the package must not
        # have imported it before (parallel_dry_run's docstring).
        from adjudicator.services.readjudication.parallel_dry_run import Helpers, helper_count

        helpers = helper_count(self.total - self.done)
        if not helpers:
            for cardholders in self._chunks():
                self._progress(self._dry_run(cardholders))
            return
        with Helpers(self.rt.config.database_url, self.window, helpers) as pool:
            for cardholders, result in pool.replay(self._chunks()):
                self._progress(self._record_dry_run(cardholders, result))
        self.helper_peak_rss_mb = pool.peak_rss_mb

    def _chunks(self) -> Iterator[list[str]]:
        """The job's cardholders in chunks, read one chunk ahead at most."""
        after = self.row.resume_after
        while True:
            with reading(self.rt.engine) as conn:
                chunk = jobs_sql.next_cardholders(conn, self.row.job_id, after, CHUNK_CARDHOLDERS)
            if not chunk:
                return
            yield chunk
            after = chunk[-1]

    def _progress(self, claims: int) -> None:
        self.done += claims
        if self.on_progress is not None:
            self.on_progress(self.done, max(self.total, self.done))

    def _dry_run(self, cardholders: list[str]) -> int:
        with reading(self.rt.engine) as conn:
            replays = load_replays(conn, cardholders, self.window, self.terms_on)
        tally = Tally()
        for replay in replays.values():
            tally.add(replay.years)
        with self.rt.engine.begin() as conn:
            jobs_sql.insert_changes(conn, tally.change_rows(self.row.job_id))
            self.applier.record_progress(conn, tally, cardholders[-1])
        return tally.claims

    def _record_dry_run(self, cardholders: list[str], result: dict[str, Any]) -> int:
        """A chunk a helper replayed: its changes and progress, as _dry_run records them."""
        fields = (
            "claim_id",
            "cardholder_id",
            "enrollment_id",
            "date_of_service",
            "before_status",
            "before_program_paid",
            "after_status",
            "after_program_paid",
        )
        rows = [
            {"job_id": self.row.job_id, **dict(zip(fields, c, strict=True))}
            for c in result["changes"]
        ]
        for row in rows:
            row["date_of_service"] = date.fromisoformat(row["date_of_service"])
        tally = Tally(
            claims=result["claims"],
            unchanged=result["claims"] - len(rows),
            changed=len(rows),
            before=result["before"],
            after=result["after"],
        )
        with self.rt.engine.begin() as conn:
            jobs_sql.insert_changes(conn, rows)
            self.applier.record_progress(conn, tally, cardholders[-1])
        return tally.claims


def _finish(rt: Runtime, job_id: str, runner: str, status: str, error: str | None) -> None:
    with rt.engine.begin() as conn:
        row = _job(conn, job_id)
        if not jobs_sql.update_running_job(
            conn,
            job_id,
            runner,
            status=status,
            error=error,
            total=max(row.total, row.done),
            lease_until=None,
            finished_at=ledger.now(),
        ):
            return  # another worker took the job over; it will finish it
        jobs_sql.forget_scope(conn, job_id)


def _lease() -> datetime:
    return ledger.now() + LEASE


def _seconds_left(lease_until: datetime | None) -> float:
    if lease_until is None:
        return 1.0
    if lease_until.tzinfo is None:  # SQLite hands datetimes back naive (they are UTC)
        lease_until = lease_until.replace(tzinfo=UTC)
    return max((lease_until - ledger.now()).total_seconds(), 0.0) + 1.0


def _error_text(error: Exception) -> str:
    """What failed, for the job record: the first line only (SQL errors add parameters)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:ERROR_CHARS]
