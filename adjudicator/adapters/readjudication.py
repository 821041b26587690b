"""SQL of batch re-adjudication: jobs, their changes, and the claims a job replays.

SqlJobs works on one open Connection (and its transaction) and hands the services typed
records (adjudicator/domain/records.py, domain/replay.py), never rows. The scope is read in
chunks of cardholders (keyset pagination on cardholder_id), so a job's memory does not
grow with the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from adjudicator.adapters.ledger import now
from adjudicator.adapters.tables import (
    claims,
    enrollments,
    events,
    members,
    pharmacies,
    readjudication_changes,
    readjudication_jobs,
    readjudication_scope,
)
from adjudicator.domain.outcomes import DECIDED, ClaimStatus, ReviewState
from adjudicator.domain.records import (
    JSON,
    Change,
    ClaimRecord,
    EnrollmentRecord,
    JobRecord,
    JobStatus,
)
from adjudicator.domain.replay import ClaimState
from adjudicator.services.unit_of_work import DuplicatePaidKey

IN_SCOPE = tuple(sorted(DECIDED))  # reversed claims stay reversed and are not counted
_IN_LIST = 500  # bound parameters per IN (...) list

jobs = readjudication_jobs
changes = readjudication_changes
scope = readjudication_scope

# What the replay reads of a claim; `decision` only when a job applies. replayed_claim()
# maps them by position.
_REPLAY_COLUMNS = (
    claims.c.seq,
    claims.c.claim_id,
    claims.c.cardholder_id,
    claims.c.pharmacy_npi,
    claims.c.rx_number,
    claims.c.fill_number,
    claims.c.date_of_service,
    claims.c.request,
    claims.c.status,
    claims.c.program_paid,
    claims.c.enrollment_id,
    claims.c.authorization_number,
    claims.c.review_state,
    claims.c.review,
    claims.c.decided_at,
)


class SqlJobs:
    """Re-adjudication's reads and writes over one connection (and its transaction): the
    unit of work's `jobs` (services/unit_of_work.Jobs)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- jobs ---------------------------------------------------------------------------

    def add(
        self,
        job_id: str,
        *,
        mode: str,
        date_from: date,
        date_to: date,
        cardholder_id: str | None,
        created_by: str,
    ) -> None:
        self._conn.execute(
            insert(jobs).values(
                job_id=job_id, mode=mode, status=JobStatus.QUEUED, date_from=date_from,
                date_to=date_to, cardholder_id=cardholder_id, total=0, done=0, unchanged=0,
                changed=0, program_paid_before=0, program_paid_after=0, attempts=0,
                created_by=created_by, created_at=now(),
            )
        )  # fmt: skip

    def get(self, job_id: str) -> JobRecord | None:
        row = self._conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        return None if row is None else job_record(row)

    def recent(self, limit: int) -> list[JobRecord]:
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.job_id).limit(limit)
        return [job_record(row) for row in self._conn.execute(query)]

    def take(self, job_id: str, runner: str, lease_until: datetime) -> bool:
        """Take the job for `runner`: queued, or running under a lease that ran out."""
        stamp = now()
        query = (
            update(jobs)
            .where(
                jobs.c.job_id == job_id,
                or_(
                    jobs.c.status == JobStatus.QUEUED,
                    and_(
                        jobs.c.status == JobStatus.RUNNING,
                        or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < stamp),
                    ),
                ),
            )
            .values(
                status=JobStatus.RUNNING,
                runner=runner,
                lease_until=lease_until,
                attempts=jobs.c.attempts + 1,
                started_at=func.coalesce(jobs.c.started_at, stamp),
            )
        )
        return self._conn.execute(query).rowcount == 1

    def set_total(self, job_id: str, runner: str, total: int) -> bool:
        """The claims in scope, once listed; False when `runner` lost the job."""
        return self._update_running(job_id, runner, total=total)

    def finish(
        self, job_id: str, runner: str, status: JobStatus, error: str | None, total: int
    ) -> bool:
        """End the job and drop its lease; False when `runner` lost the job."""
        return self._update_running(
            job_id, runner, status=status, error=error, total=total, lease_until=None,
            finished_at=now(),
        )  # fmt: skip

    def _update_running(self, job_id: str, runner: str, **values: Any) -> bool:
        """Write to a job only while `runner` still holds it."""
        query = update(jobs).where(
            jobs.c.job_id == job_id, jobs.c.status == JobStatus.RUNNING, jobs.c.runner == runner
        )
        return self._conn.execute(query.values(**values)).rowcount == 1

    def add_progress(
        self,
        job_id: str,
        runner: str,
        *,
        resume_after: str,
        lease_until: datetime,
        claims: int,
        unchanged: int,
        changed: int,
        before: int,
        after: int,
    ) -> bool:
        """Count a chunk in the job's progress and summary; False when `runner` lost the job."""
        params = {
            "w_job": job_id,
            "w_runner": runner,
            "claims": claims,
            "unchanged": unchanged,
            "changed": changed,
            "before": before,
            "after": after,
            "resume_after": resume_after,
            "lease_until": lease_until,
        }
        return self._conn.execute(_ADD_PROGRESS, params).rowcount == 1

    def add_changes(self, job_id: str, found: Iterable[Change]) -> None:
        rows = [change_row(job_id, change) for change in found]
        if rows:
            self._conn.execute(_INSERT_CHANGES, rows)

    def changes(self, job_id: str, after_seq: int | None, limit: int) -> list[Change]:
        query = select(changes).where(changes.c.job_id == job_id)
        if after_seq is not None:
            query = query.where(changes.c.seq > after_seq)
        rows = self._conn.execute(query.order_by(changes.c.seq).limit(limit))
        return [stored_change(row) for row in rows]

    # --- the scope ----------------------------------------------------------------------

    def scope_cardholders(
        self, date_from: date, date_to: date, cardholder_id: str | None
    ) -> Iterable[str]:
        """The cardholders with claims in scope, in cardholder order (stream the result)."""
        query = (
            select(claims.c.cardholder_id)
            .where(*_scope(date_from, date_to, cardholder_id))
            .distinct()
            .order_by(claims.c.cardholder_id)
        )
        return self._conn.execute(query).scalars()

    def count_in_scope(self, date_from: date, date_to: date, cardholder_id: str | None) -> int:
        where = _scope(date_from, date_to, cardholder_id)
        query = select(func.count()).select_from(claims).where(*where)
        return int(self._conn.execute(query).scalar_one())

    def add_scope(self, job_id: str, cardholder_ids: Sequence[str]) -> None:
        if cardholder_ids:
            rows = [{"job_id": job_id, "cardholder_id": c} for c in cardholder_ids]
            self._conn.execute(_INSERT_SCOPE, rows)

    def next_cardholders(self, job_id: str, after: str | None, limit: int) -> list[str]:
        """The job's next `limit` cardholders, in cardholder order, after `after`."""
        query = select(scope.c.cardholder_id).where(scope.c.job_id == job_id)
        if after is not None:
            query = query.where(scope.c.cardholder_id > after)
        query = query.order_by(scope.c.cardholder_id).limit(limit)
        return list(self._conn.execute(query).scalars())

    def forget_scope(self, job_id: str) -> None:
        self._conn.execute(delete(scope).where(scope.c.job_id == job_id))

    # --- what a replay reads ------------------------------------------------------------

    def claims_of(
        self,
        cardholder_ids: Sequence[str],
        first_day: date,
        last_day: date,
        *,
        with_decision: bool = False,
        for_update: bool = False,
    ) -> list[ClaimRecord]:
        """Every claim of these cardholders with a date of service in [first_day, last_day],
        by cardholder and seq; `for_update` locks them (PostgreSQL)."""
        query = _claims_of(with_decision, for_update)
        found: list[ClaimRecord] = []
        for part in _parts(cardholder_ids):
            rows = self._conn.execute(query, {"ids": part, "first": first_day, "last": last_day})
            found.extend(map(replayed_claim, rows))
        return found

    def claim_states(
        self, cardholder_ids: Sequence[str], first_day: date, last_day: date
    ) -> dict[str, list[ClaimState]]:
        """cardholder -> the states of its claims as claims_of orders them, locked
        (PostgreSQL: FOR UPDATE; SQLite: the caller holds the write lock)."""
        found: dict[str, list[ClaimState]] = {}
        for part in _parts(cardholder_ids):
            params = {"ids": part, "first": first_day, "last": last_day}
            for row in self._conn.execute(_CLAIM_STATES, params):
                status = _STATUSES[row.status]
                state = ClaimState(row.claim_id, status, row.program_paid, row.decided_at)
                found.setdefault(row.cardholder_id, []).append(state)
        return found

    def enrollments_of(self, cardholder_ids: Sequence[str]) -> list[EnrollmentRecord]:
        found: list[EnrollmentRecord] = []
        for part in _parts(cardholder_ids):
            query = select(enrollments).where(enrollments.c.cardholder_id.in_(part))
            found.extend(EnrollmentRecord(**row._mapping) for row in self._conn.execute(query))
        return found

    def members_among(self, cardholder_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in _parts(cardholder_ids):
            query = select(members.c.cardholder_id).where(members.c.cardholder_id.in_(part))
            found.update(self._conn.execute(query).scalars())
        return found

    def paid_key_holders(self, keys: Iterable[str]) -> dict[str, str]:
        """paid_key -> the claim now paid under that NCPDP key."""
        holders: dict[str, str] = {}
        for part in _parts(sorted(set(keys))):
            query = select(claims.c.paid_key, claims.c.claim_id).where(claims.c.paid_key.in_(part))
            holders.update({key: claim_id for key, claim_id in self._conn.execute(query)})
        return holders

    def chain_lookup(self) -> Callable[[str], str]:
        """pharmacy NPI -> its chain ("" for an unknown pharmacy), each read once, while
        this connection is open."""
        known: dict[str, str] = {}

        def chain_of(npi: str) -> str:
            if npi not in known:
                found = self._conn.execute(_CHAIN, {"npi": npi})
                known[npi] = found.scalar() or ""
            return known[npi]

        return chain_of

    # --- what an apply writes -----------------------------------------------------------

    def set_readjudicated(
        self, decisions: Sequence[tuple[str, ClaimStatus, int, dict[str, Any]]]
    ) -> bool:
        """New decisions, (claim_id, status before, program_paid before, new values) each, in
        order; False when any claim moved on since it was read (the caller rolls back).
        Raises DuplicatePaidKey."""
        try:
            return set_readjudicated_many(self._conn, decisions)
        except IntegrityError as error:  # paid_key is unique: another claim took the key
            raise DuplicatePaidKey(str(error).splitlines()[0]) from error

    def add_claim_events(self, rows: Sequence[JSON]) -> None:
        """Claim events, in one statement (the same columns as ledger.add_event writes)."""
        if rows:
            self._conn.execute(_INSERT_EVENTS, list(rows))


def set_readjudicated_many(
    conn: Connection, decisions: Sequence[tuple[str, str, int, dict[str, Any]]]
) -> bool:
    """SqlJobs.set_readjudicated's statements: consecutive decisions writing the same
    columns go in one executemany."""
    batch: list[dict[str, Any]] = []
    columns: tuple[str, ...] = ()
    written = 0
    for claim_id, before_status, before_paid, values in decisions:
        shape = tuple(sorted(values))
        if batch and shape != columns:
            written += conn.execute(_readjudicated(columns), batch).rowcount
            batch = []
        columns = shape
        params = {"w_id": claim_id, "w_status": before_status, "w_paid": before_paid}
        params.update({f"v_{column}": value for column, value in values.items()})
        batch.append(params)
    if batch:
        written += conn.execute(_readjudicated(columns), batch).rowcount
    return written == len(decisions)


# --- the statements: built once (SQLAlchemy would otherwise spend more building and
# caching each statement than SQLite spends running it) -------------------------------

_ADD_PROGRESS = (
    update(jobs)
    .where(
        jobs.c.job_id == bindparam("w_job"),
        jobs.c.status == JobStatus.RUNNING,
        jobs.c.runner == bindparam("w_runner"),
    )
    .values(
        done=jobs.c.done + bindparam("claims"),
        unchanged=jobs.c.unchanged + bindparam("unchanged"),
        changed=jobs.c.changed + bindparam("changed"),
        program_paid_before=jobs.c.program_paid_before + bindparam("before"),
        program_paid_after=jobs.c.program_paid_after + bindparam("after"),
        resume_after=bindparam("resume_after"),
        lease_until=bindparam("lease_until"),
    )
)
_INSERT_CHANGES = insert(changes)
_INSERT_SCOPE = insert(scope)
_INSERT_EVENTS = insert(events)
_CHAIN = select(pharmacies.c.chain).where(pharmacies.c.npi == bindparam("npi"))


def _scope(date_from: date, date_to: date, cardholder_id: str | None) -> list[Any]:
    conditions = [
        claims.c.status.in_(IN_SCOPE),
        claims.c.date_of_service >= date_from,
        claims.c.date_of_service <= date_to,
    ]
    if cardholder_id is not None:
        conditions.append(claims.c.cardholder_id == cardholder_id)
    return conditions


@lru_cache(maxsize=4)
def _claims_of(with_decision: bool, for_update: bool) -> Any:
    columns = (*_REPLAY_COLUMNS, claims.c.decision) if with_decision else _REPLAY_COLUMNS
    query = select(*columns).where(*_CARDHOLDERS_BETWEEN).order_by(*_ORDER)
    return query.with_for_update() if for_update else query


_CARDHOLDERS_BETWEEN = (
    claims.c.cardholder_id.in_(bindparam("ids", expanding=True)),
    claims.c.date_of_service >= bindparam("first"),
    claims.c.date_of_service <= bindparam("last"),
)
_ORDER = (claims.c.cardholder_id, claims.c.seq)
_CLAIM_STATES = (
    select(
        claims.c.claim_id,
        claims.c.cardholder_id,
        claims.c.status,
        claims.c.program_paid,
        claims.c.decided_at,
    )
    .where(*_CARDHOLDERS_BETWEEN)
    .order_by(*_ORDER)
    .with_for_update()  # PostgreSQL; SQLite holds the write lock already
)


@lru_cache(maxsize=8)
def _readjudicated(columns: tuple[str, ...]) -> Any:
    return (
        update(claims)
        .where(
            claims.c.claim_id == bindparam("w_id"),
            claims.c.status == bindparam("w_status"),
            claims.c.program_paid == bindparam("w_paid"),
        )
        .values({column: bindparam(f"v_{column}") for column in columns})
    )


def _parts(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _IN_LIST):
        yield items[start : start + _IN_LIST]


# --- the rows as typed records ----------------------------------------------------------

_STATUSES = {status.value: status for status in ClaimStatus}  # a dict: faster than the call
_REVIEW_STATES = {state.value: state for state in ReviewState}
_JOB_FIELDS = tuple(f.name for f in fields(JobRecord))
_CHANGE_FIELDS = tuple(f.name for f in fields(Change) if f.name != "seq")


def replayed_claim(row: Sequence[Any]) -> ClaimRecord:
    """A row of claims_of (the _REPLAY_COLUMNS, in their order, then `decision` if read).

    Positional: a job maps every claim of its scope, and this is the cheapest way."""
    (
        seq, claim_id, cardholder_id, npi, rx_number, fill_number, date_of_service, request,
        status, program_paid, enrollment_id, authorization_number, review_state, review,
        decided_at, *decision,
    ) = row  # fmt: skip
    return ClaimRecord(
        claim_id=claim_id,
        pharmacy_npi=npi,
        cardholder_id=cardholder_id,
        rx_number=rx_number,
        fill_number=fill_number,
        date_of_service=date_of_service,
        request=request,
        status=_STATUSES[status],
        program_paid=program_paid,
        decision=decision[0] if decision else None,
        enrollment_id=enrollment_id,
        authorization_number=authorization_number,
        review_state=None if review_state is None else _REVIEW_STATES[review_state],
        review=review,
        seq=seq,
        decided_at=decided_at,
    )


def job_record(row: Row[Any]) -> JobRecord:
    values = row._mapping
    record = {name: values[name] for name in _JOB_FIELDS}
    record["status"] = JobStatus(record["status"])
    return JobRecord(**record)


def change_row(job_id: str, change: Change) -> dict[str, Any]:
    row = {name: getattr(change, name) for name in _CHANGE_FIELDS}
    row["job_id"] = job_id
    return row


def stored_change(row: Row[Any]) -> Change:
    values = row._mapping
    change = {name: values[name] for name in _CHANGE_FIELDS}
    change["before_status"] = _STATUSES[change["before_status"]]
    change["after_status"] = _STATUSES[change["after_status"]]
    return Change(**change, seq=row.seq)
