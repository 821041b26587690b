"""Batch re-adjudication jobs: create one, run it (Celery `batch` queue or the CLI), read it.

A job replays every patient-year touched by its window (domain/replay.py) in chunks of
cardholders. `dry_run` records each changed claim and the summary and changes nothing else;
`apply` also writes the new decisions and sets the accumulators (apply.py). Progress and
the summary live in the job row, updated with each chunk in the transaction that records
the chunk's changes (tally.py), so a redelivered task resumes where the last one stopped
and never counts a claim twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adjudicator.domain.records import FINISHED, JobRecord, JobStatus
from adjudicator.domain.replay import Window, terms_lookup
from adjudicator.services import cursors, terms
from adjudicator.services.errors import NotFound
from adjudicator.services.readjudication.apply import Applier
from adjudicator.services.readjudication.load import load_replays
from adjudicator.services.readjudication.tally import LeaseLost, Runner, Tally
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import Jobs

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a worker that stops renewing it loses the job to the next
CHUNK_CARDHOLDERS = 100
SCOPE_BATCH = 1000  # cardholders written per transaction when a job lists its scope
ERROR_CHARS = 500
BUSY = "busy"  # RunResult.status while another worker holds the job

Progress = Callable[[int, int], None]  # (done, total) claims


# --- create and read ------------------------------------------------------------------


def create(rt: Runtime, data: dict[str, Any], actor: str) -> dict[str, Any]:
    """A queued job; the caller sends its id to the batch queue (or runs it)."""
    job_id = uuid.uuid4().hex
    with rt.ledger.writing() as uow:
        uow.jobs.add(
            job_id,
            mode=data["mode"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            cardholder_id=data.get("cardholder_id"),
            created_by=actor,
        )
        return view(_job(uow.jobs, job_id))


def get(rt: Runtime, job_id: str) -> dict[str, Any]:
    with rt.ledger.reading() as uow:
        return view(_job(uow.jobs, job_id))


def recent(rt: Runtime, limit: int = 20) -> list[dict[str, Any]]:
    """The latest jobs, newest first (for listings such as the console's)."""
    with rt.ledger.reading() as uow:
        return [view(job) for job in uow.jobs.recent(limit)]


def changes(rt: Runtime, job_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """The job's changed claims in the order it found them, cursor-paged."""
    with rt.ledger.reading() as uow:
        _job(uow.jobs, job_id)
        found = uow.jobs.changes(job_id, cursors.decode(cursor), limit + 1)
    page = found[:limit]
    return {
        "items": [
            {
                "claim_id": change.claim_id,
                "cardholder_id": change.cardholder_id,
                "date_of_service": change.date_of_service,
                "before": {
                    "status": change.before_status,
                    "program_paid": change.before_program_paid,
                },
                "after": {"status": change.after_status, "program_paid": change.after_program_paid},
            }
            for change in page
        ],
        "next_cursor": cursors.encode(page[-1].seq or 0) if len(found) > limit else None,
    }


def view(job: JobRecord) -> dict[str, Any]:
    """The API shape of a job: money in cents, dates as dates."""
    return {
        "job_id": job.job_id,
        "status": job.status,
        "mode": job.mode,
        "date_from": job.date_from,
        "date_to": job.date_to,
        "cardholder_id": job.cardholder_id,
        "progress": {"total": max(job.total, job.done), "done": job.done},
        "summary": {
            "claims": job.done,
            "unchanged": job.unchanged,
            "changed": job.changed,
            "program_paid_before": job.program_paid_before,
            "program_paid_after": job.program_paid_after,
            "delta": job.program_paid_after - job.program_paid_before,
        },
        "error": job.error,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "links": {
            "self": f"/v1/readjudications/{job.job_id}",
            "changes": f"/v1/readjudications/{job.job_id}/changes",
        },
    }


def _job(jobs: Jobs, job_id: str) -> JobRecord:
    job = jobs.get(job_id)
    if job is None:
        raise NotFound("no re-adjudication job with this id")
    return job


# --- run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    status: str  # the job's status when this call ends (a JobStatus), or BUSY
    retry_in: float | None = None  # busy: another worker holds the job's lease this long
    helper_peak_rss_mb: float = 0.0  # a dry run's helper processes: the largest one's peak


def run(rt: Runtime, job_id: str, on_progress: Progress | None = None) -> RunResult:
    """Run or resume a job to its end; idempotent by job id (a finished job is left alone)."""
    runner = Runner(job_id, uuid.uuid4().hex, lambda: rt.ledger.now() + LEASE)
    with rt.ledger.writing() as uow:
        job = _job(uow.jobs, job_id)
        if job.status in FINISHED:
            return RunResult(job.status)
        if not uow.jobs.take(job_id, runner.runner_id, runner.lease()):
            return RunResult(BUSY, _seconds_left(rt, job.lease_until))
    resumed = job.status == JobStatus.RUNNING
    log.info("re-adjudication started", extra={"job_id": job_id, "mode": job.mode})
    try:
        if job.total == 0 and job.done == 0:  # a fresh job, or one that died listing
            _list_scope(rt, job, runner)
        with rt.ledger.reading() as uow:
            running = _Job(rt, _job(uow.jobs, job_id), runner, on_progress)
        running.run(resumed)
    except LeaseLost:
        log.warning("re-adjudication job taken over", extra={"job_id": job_id})
        return RunResult(JobStatus.RUNNING)
    except Exception as error:
        log.error("re-adjudication failed: %s", type(error).__name__, exc_info=error)
        _finish(rt, runner, JobStatus.FAILED, _error_text(error))
        return RunResult(JobStatus.FAILED)
    _finish(rt, runner, JobStatus.SUCCEEDED, None)
    log.info("re-adjudication succeeded", extra={"job_id": job_id})
    return RunResult(JobStatus.SUCCEEDED, helper_peak_rss_mb=running.helper_peak_rss_mb)


def _list_scope(rt: Runtime, job: JobRecord, runner: Runner) -> None:
    """Write down the job's cardholders and count its claims, once, from one snapshot.

    Read in a read-only transaction and written in small ones: on SQLite a single
    INSERT ... SELECT over a large ledger would hold the write lock (and every pharmacy
    claim) for as long as the scan takes."""
    window = (job.date_from, job.date_to, job.cardholder_id)
    with rt.ledger.writing() as uow:
        uow.jobs.forget_scope(job.job_id)
    with rt.ledger.reading(stream_results=True, yield_per=SCOPE_BATCH) as snapshot:
        batch: list[str] = []
        for cardholder in snapshot.jobs.scope_cardholders(*window):
            batch.append(cardholder)
            if len(batch) == SCOPE_BATCH:
                _add_scope(rt, job.job_id, batch)
                batch = []
        _add_scope(rt, job.job_id, batch)
        total = snapshot.jobs.count_in_scope(*window)
    with rt.ledger.writing() as uow:
        if not uow.jobs.set_total(job.job_id, runner.runner_id, total):
            raise LeaseLost(job.job_id)


def _add_scope(rt: Runtime, job_id: str, cardholders: list[str]) -> None:
    with rt.ledger.writing() as uow:
        uow.jobs.add_scope(job_id, cardholders)


class _Job:
    def __init__(
        self, rt: Runtime, job: JobRecord, runner: Runner, on_progress: Progress | None
    ) -> None:
        self.rt = rt
        self.job = job
        self.runner = runner
        self.window = Window(job.date_from, job.date_to, job.cardholder_id)
        with rt.ledger.reading() as uow:
            self.terms_on = terms_lookup(terms.all_versions(uow))
        self.applier = Applier(rt, runner, self.window, self.terms_on)
        self.on_progress = on_progress
        self.done, self.total = job.done, job.total
        self.helper_peak_rss_mb = 0.0

    def run(self, resumed: bool) -> None:
        if self.job.mode == "apply":
            if resumed and self.job.resume_after:
                # The last run may have died between a SQL commit and its Redis step.
                self.applier.resync(self.job.resume_after)
            for cardholders in self._chunks():
                self._progress(self.applier.apply_chunk(cardholders))
            return
        # Imported here: the helpers run that module with -m, so the package must not
        # have imported it before (parallel_dry_run's docstring).
        from adjudicator.services.readjudication.parallel_dry_run import Helpers, helper_count

        helpers = helper_count(self.total - self.done)
        if not helpers:
            for cardholders in self._chunks():
                self._record(cardholders, self._replay(cardholders))
            return
        with Helpers(self.rt.config.database_url, self.window, helpers) as pool:
            for cardholders, tally in pool.replay(self._chunks()):
                self._record(cardholders, tally)
        self.helper_peak_rss_mb = pool.peak_rss_mb

    def _chunks(self) -> Iterator[list[str]]:
        """The job's cardholders in chunks, read one chunk ahead at most."""
        after = self.job.resume_after
        while True:
            with self.rt.ledger.reading() as uow:
                chunk = uow.jobs.next_cardholders(self.job.job_id, after, CHUNK_CARDHOLDERS)
            if not chunk:
                return
            yield chunk
            after = chunk[-1]

    def _progress(self, claims: int) -> None:
        self.done += claims
        if self.on_progress is not None:
            self.on_progress(self.done, max(self.total, self.done))

    def _replay(self, cardholders: list[str]) -> Tally:
        """A dry run's chunk, replayed in this process."""
        with self.rt.ledger.reading() as uow:
            replays = load_replays(uow.jobs, cardholders, self.window, self.terms_on)
        tally = Tally()
        for replay in replays.values():
            tally.add(replay.years)
        return tally

    def _record(self, cardholders: list[str], tally: Tally) -> None:
        """A dry run's chunk (replayed here or by a helper): its changes and progress."""
        with self.rt.ledger.writing() as uow:
            self.runner.record(uow.jobs, tally, cardholders[-1])
        self._progress(tally.claims)


def _finish(rt: Runtime, runner: Runner, status: JobStatus, error: str | None) -> None:
    job_id = runner.job_id
    with rt.ledger.writing() as uow:
        job = _job(uow.jobs, job_id)
        if not uow.jobs.finish(job_id, runner.runner_id, status, error, max(job.total, job.done)):
            return  # another worker took the job over; it will finish it
        uow.jobs.forget_scope(job_id)


def _seconds_left(rt: Runtime, lease_until: datetime | None) -> float:
    if lease_until is None:
        return 1.0
    if lease_until.tzinfo is None:  # SQLite hands datetimes back naive (they are UTC)
        lease_until = lease_until.replace(tzinfo=UTC)
    return max((lease_until - rt.ledger.now()).total_seconds(), 0.0) + 1.0


def _error_text(error: Exception) -> str:
    """What failed, for the job record: the first line only (SQL errors add parameters)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:ERROR_CHARS]
