"""Load a chunk of cardholders for replay, and apply one cardholder's replayed years.

Applying a cardholder (one Redis key) is one SQL transaction plus two Lua steps per
changed patient-year, so pharmacy claims arriving meanwhile never break the cap:

1. In the transaction (SQLite: the write lock, BEGIN IMMEDIATE; PostgreSQL: the year's
   claim rows FOR UPDATE) read the cardholder's claims and replay them.
2. `hold_for_replay`: Redis refuses when it holds a payment the ledger read does not
   show (a claim reserved but not yet recorded, a reversal half done); we roll back, wait
   a moment and start again. Otherwise it raises the year's `used` to at least the
   replayed total (and lowers the grants the replay lowers), so from here on a live claim
   is granted only what both the old and the new decisions leave.
3. Write the new decisions, their events and the job's changes and progress; commit.
4. `commit_replay`: rewrite the year's grants as now recorded and set `used` to the sum of
   the grants not released, live claims' grants included.
If the transaction fails after a hold, the year's grants are rewritten from the ledger as
it still is (the same script), which undoes the hold.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from adjudicator.adapters import ledger
from adjudicator.adapters import readjudication as jobs_sql
from adjudicator.adapters.accumulator import ReplayInFlight
from adjudicator.adapters.db import reading
from adjudicator.adapters.tables import pharmacies
from adjudicator.domain.outcomes import ReviewState
from adjudicator.domain.records import ClaimRecord
from adjudicator.domain.replay import (
    Lookups,
    Outcome,
    Window,
    YearReplay,
    keys_to_look_up,
    replay_cardholder,
)
from adjudicator.domain.terms import Terms
from adjudicator.services import records
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)

YEAR_SPAN = timedelta(days=366)  # every claim of a year touched by the window lies this close
IN_FLIGHT_PATIENCE = 60.0  # seconds to wait for a claim in flight before the job fails
GROUP_CARDHOLDERS = 8  # changed cardholders written per transaction
MAX_PAUSE = 0.05  # seconds; SQLite: the longest pause after a write transaction


class LeaseLost(RuntimeError):
    """Another worker took the job over (this one stopped renewing its lease in time)."""


# --- loading a chunk ---------------------------------------------------------------------


@dataclass
class CardholderReplay:
    """A cardholder's touched years, replayed, and what that replay was computed from."""

    years: list[YearReplay]
    fingerprint: tuple[Any, ...]

    @property
    def changed(self) -> bool:
        return any(year.changed for year in self.years)


def load_replays(
    conn: Connection,
    cardholders: list[str],
    window: Window,
    terms_on: Callable[[date], Terms],
    *,
    with_decision: bool = False,
    for_update: bool = False,
) -> dict[str, CardholderReplay]:
    """Each cardholder's touched patient-years, replayed from what `conn` reads.

    `with_decision` also reads the stored decisions (an apply needs them for the events and
    the grants); `for_update` locks the claim rows read (PostgreSQL).
    """
    rows = jobs_sql.claims_of(
        conn,
        cardholders,
        window.date_from - YEAR_SPAN,
        window.date_to + YEAR_SPAN,
        with_decision=with_decision or for_update,
        for_update=for_update,
    )
    by_cardholder: dict[str, list[ClaimRecord]] = defaultdict(list)
    for claim in rows:
        by_cardholder[claim.cardholder_id].append(claim)
    enrollments: dict[str, list[Any]] = defaultdict(list)
    for enrollment in jobs_sql.enrollments_of_many(conn, cardholders):
        enrollments[enrollment.cardholder_id].append(enrollment)
    without_years = [c for c in cardholders if not enrollments.get(c)]
    members = jobs_sql.members_among(conn, without_years) if without_years else set()
    holders = jobs_sql.paid_key_holders(conn, keys_to_look_up(rows, window))
    lookups = Lookups(terms_on, _chains(conn), holders)
    replays = {}
    for cardholder in cardholders:
        claims = by_cardholder.get(cardholder, [])
        years = sorted(enrollments.get(cardholder, []), key=lambda e: e.period_start)
        replays[cardholder] = CardholderReplay(
            replay_cardholder(
                cardholder,
                claims,
                tuple(records.year_from_row(year) for year in years),
                cardholder in members,
                window,
                lookups,
            ),
            _fingerprint(claims, years),
        )
    return replays


def _fingerprint(claims: Sequence[Any], enrollments: list[Any]) -> tuple[Any, ...]:
    """What may change under a replay: claim outcomes and order, enrollment facts."""
    return (
        tuple((c.claim_id, c.status, c.program_paid, c.decided_at) for c in claims),
        tuple(sorted((e.enrollment_id, e.updated_at) for e in enrollments)),
    )


def _chains(conn: Connection) -> Callable[[str], str]:
    known: dict[str, str] = {}

    def chain_of(npi: str) -> str:
        if npi not in known:
            found = conn.execute(select(pharmacies.c.chain).where(pharmacies.c.npi == npi))
            known[npi] = found.scalar() or ""
        return known[npi]

    return chain_of


# --- counting ----------------------------------------------------------------------------


@dataclass
class Tally:
    """A chunk's contribution to the job's summary, and its changed claims."""

    claims: int = 0
    unchanged: int = 0
    changed: int = 0
    before: int = 0
    after: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, years: list[YearReplay]) -> None:
        for year in years:
            outcomes = year.outcomes
            self.claims += len(outcomes)
            for outcome in outcomes:
                self.before += outcome.claim.program_paid
                self.after += outcome.after_paid
                if outcome.changed:
                    self.outcomes.append(outcome)
        self.changed = len(self.outcomes)
        self.unchanged = self.claims - self.changed

    def merge(self, other: Tally) -> None:
        self.claims += other.claims
        self.before += other.before
        self.after += other.after
        self.outcomes.extend(other.outcomes)
        self.changed = len(self.outcomes)
        self.unchanged = self.claims - self.changed

    def change_rows(self, job_id: str) -> list[dict[str, Any]]:
        return [
            {
                "job_id": job_id,
                "claim_id": o.claim.claim_id,
                "cardholder_id": o.claim.cardholder_id,
                "enrollment_id": o.enrollment_id,
                "date_of_service": o.claim.date_of_service,
                "before_status": o.claim.status,
                "before_program_paid": o.claim.program_paid,
                "after_status": o.decision.status,
                "after_program_paid": o.after_paid,
            }
            for o in self.outcomes
        ]


# --- applying ----------------------------------------------------------------------------


class Applier:
    def __init__(
        self,
        rt: Runtime,
        job_id: str,
        runner: str,
        window: Window,
        terms_on: Callable[[date], Terms],
        lease: Callable[[], datetime],
    ) -> None:
        self.rt = rt
        self.job_id = job_id
        self.runner = runner
        self.window = window
        self.terms_on = terms_on
        self.lease = lease
        self.actor = f"readjudication:{job_id}"

    def record_progress(self, conn: Connection, tally: Tally, resume_after: str) -> None:
        """Add a chunk to the job row (in the chunk's own transaction) and renew the lease."""
        if not jobs_sql.add_progress(
            conn,
            self.job_id,
            self.runner,
            resume_after=resume_after,
            lease_until=self.lease(),
            claims_=tally.claims,
            unchanged=tally.unchanged,
            changed=tally.changed,
            before=tally.before,
            after=tally.after,
        ):
            raise LeaseLost(self.job_id)

    def apply_chunk(self, cardholders: list[str]) -> int:
        """Apply a chunk: one read and replay outside any lock, then the changed cardholders
        in small groups, each group one transaction; unchanged cardholders cost the read."""
        with reading(self.rt.engine) as conn:
            first_look = load_replays(
                conn, cardholders, self.window, self.terms_on, with_decision=True
            )
        pending: list[tuple[str, Tally]] = []  # read and counted, not written to the job yet
        group: list[str] = []
        done = 0
        for cardholder in cardholders:
            replay = first_look[cardholder]
            if replay.changed:
                group.append(cardholder)
            else:
                tally = Tally()
                tally.add(replay.years)
                pending.append((cardholder, tally))
            if group and (len(group) >= GROUP_CARDHOLDERS or cardholder == cardholders[-1]):
                done += self._apply_group(group, first_look, pending, cardholder)
                group = []
        if pending:
            tally = _merge(pending)
            with self._write_lock() as conn:
                self.record_progress(conn, tally, cardholders[-1])
            done += tally.claims
        return done

    def _apply_group(
        self,
        group: list[str],
        first_look: dict[str, CardholderReplay],
        pending: list[tuple[str, Tally]],
        reached: str,
    ) -> int:
        """Changed cardholders in one transaction when nothing moved since the first look;
        else one by one, each replayed again under the lock."""
        held: list[tuple[str, YearReplay]] = []
        tally = _merge(pending)
        try:
            with self._write_lock() as conn:
                locked = self._fingerprints(conn, group)
                if any(locked.get(c, _NOTHING) != first_look[c].fingerprint for c in group):
                    raise _Moved
                years = [(c, year) for c in group for year in first_look[c].years]
                self._hold(years, held)
                for _, year in years:
                    tally.add([year])
                self._write(conn, tally)
                jobs_sql.insert_changes(conn, tally.change_rows(self.job_id))
                self.record_progress(conn, tally, reached)
        except (_Moved, ReplayInFlight, IntegrityError):
            self._undo_holds(held)
            done = 0
            for cardholder in group:
                done += self._apply_cardholder(cardholder, _take(pending, upto=cardholder))
            if pending:  # unchanged cardholders after the group's last one
                rest = _merge(pending)
                with self._write_lock() as conn:
                    self.record_progress(conn, rest, reached)
                done += rest.claims
                pending.clear()
            return done
        except BaseException:
            self._undo_holds(held)
            raise
        pending.clear()
        self._commit_holds(held)
        return tally.claims

    def _apply_cardholder(self, cardholder: str, earlier: Tally) -> int:
        """One cardholder, replayed under the lock; retried while a claim is in flight."""
        deadline = time.monotonic() + IN_FLIGHT_PATIENCE
        delay = 0.005
        while True:
            held: list[tuple[str, YearReplay]] = []
            try:
                with self._write_lock() as conn:
                    replay = load_replays(
                        conn, [cardholder], self.window, self.terms_on, for_update=True
                    )[cardholder]
                    self._hold([(cardholder, year) for year in replay.years], held)
                    tally = Tally()
                    tally.add(replay.years)
                    self._write(conn, tally)
                    tally.merge(earlier)
                    jobs_sql.insert_changes(conn, tally.change_rows(self.job_id))
                    self.record_progress(conn, tally, cardholder)
            except (ReplayInFlight, IntegrityError) as busy:
                self._undo_holds(held)
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "a claim of a cardholder in the window stayed in flight for "
                        f"{IN_FLIGHT_PATIENCE:.0f} s ({type(busy).__name__}); run the job again"
                    ) from busy
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
                continue
            except BaseException:
                self._undo_holds(held)
                raise
            self._commit_holds(held)
            return tally.claims

    @contextmanager
    def _write_lock(self) -> Iterator[Connection]:
        """A write transaction; on SQLite, pause as long as it held the lock afterwards.

        SQLite has one writer at a time and a waiting writer polls with growing sleeps, so
        back-to-back transactions would starve the pharmacy claims' writes. Leaving the lock
        free at least half the time keeps them flowing (PostgreSQL locks rows instead)."""
        began = time.monotonic()
        with self.rt.engine.begin() as conn:
            yield conn
        if self.rt.engine.dialect.name == "sqlite":
            time.sleep(min(time.monotonic() - began, MAX_PAUSE))

    def _fingerprints(self, conn: Connection, group: list[str]) -> dict[str, tuple[Any, ...]]:
        first, last = self.window.date_from - YEAR_SPAN, self.window.date_to + YEAR_SPAN
        claims: dict[str, list[Any]] = defaultdict(list)
        for row in jobs_sql.fingerprints(conn, group, first, last):
            claims[row.cardholder_id].append(row)
        enrollments: dict[str, list[Any]] = defaultdict(list)
        for row in jobs_sql.enrollments_of_many(conn, group):
            enrollments[row.cardholder_id].append(row)
        return {c: _fingerprint(claims.get(c, []), enrollments.get(c, [])) for c in group}

    def _hold(
        self, years: list[tuple[str, YearReplay]], held: list[tuple[str, YearReplay]]
    ) -> None:
        """Hold every changed year (see the module's docstring) in one round trip; `held`
        lists the years to undo if the transaction does not commit."""
        changed = [(c, y) for c, y in years if y.enrollment_id is not None and y.changed]
        if not changed:
            return
        held.extend(changed)  # a refusal may leave some held: undoing any year is safe
        self.rt.accumulator.hold_for_replay_many(
            [(c, y.enrollment_id, y.total, y.states()) for c, y in changed],  # type: ignore[misc]  # filtered: ids not None
        )

    def _commit_holds(self, held: list[tuple[str, YearReplay]]) -> None:
        if held:
            self.rt.accumulator.commit_replay_many(
                [(c, y.enrollment_id, y.grants, y.cleared()) for c, y in held],  # type: ignore[misc]  # filtered: ids not None
            )

    def _write(self, conn: Connection, tally: Tally) -> None:
        # Claims that stop paying first: a claim paid now may take the NCPDP key they free.
        outcomes = sorted(tally.outcomes, key=lambda o: o.pays)
        decisions = [
            (o.claim.claim_id, o.claim.status, o.claim.program_paid, _claim_values(o))
            for o in outcomes
        ]
        if not jobs_sql.set_readjudicated_many(conn, decisions):
            raise ReplayInFlight("moved", outcomes[0].claim.claim_id)
        stamp = ledger.now()
        jobs_sql.insert_events(
            conn,
            [
                {
                    "at": stamp,
                    "actor": self.actor,
                    "entity_type": "claim",
                    "entity_id": o.claim.claim_id,
                    "cardholder_id": o.claim.cardholder_id,
                    "type": "readjudicated",
                    "data": {
                        "job_id": self.job_id,
                        "before": {
                            "status": o.claim.status,
                            "program_paid": o.claim.program_paid,
                            "decision": o.claim.decision,
                        },
                        "after": {"status": o.decision.status, "program_paid": o.after_paid},
                    },
                }
                for o in outcomes
            ],
        )

    def _undo_holds(self, held: list[tuple[str, YearReplay]]) -> None:
        """Rewrite held years from the ledger as it still is (their SQL never committed)."""
        if not held:
            return
        try:
            years = [(c, y.enrollment_id, *y.ledger_grants()) for c, y in held]
            self.rt.accumulator.commit_replay_many(years)  # type: ignore[arg-type]  # held years have ids
        except Exception as error:  # the original failure matters more; check/rebuild heal
            log.error("could not undo a re-adjudication hold: %s", type(error).__name__)

    def resync(self, cardholder: str) -> None:
        """Set the cardholder's touched years in Redis from the ledger (after a crash)."""
        with reading(self.rt.engine) as conn:
            years = load_replays(conn, [cardholder], self.window, self.terms_on, with_decision=True)
        resync = [
            (cardholder, year.enrollment_id, *year.ledger_grants())
            for year in years[cardholder].years
            if year.enrollment_id is not None
        ]
        if resync:
            self.rt.accumulator.commit_replay_many(resync)


class _Moved(Exception):
    """A cardholder's claims or enrollment changed between the first look and the lock."""


_NOTHING: tuple[Any, ...] = ((), ())


def _merge(pending: list[tuple[str, Tally]]) -> Tally:
    merged = Tally()
    for _, tally in pending:
        merged.merge(tally)
    return merged


def _take(pending: list[tuple[str, Tally]], upto: str) -> Tally:
    """Remove and merge the pending cardholders that come before `upto`."""
    taken = [entry for entry in pending if entry[0] < upto]
    pending[:] = [entry for entry in pending if entry[0] >= upto]
    return _merge(taken)


def _claim_values(outcome: Outcome) -> dict[str, Any]:
    decision, claim = outcome.decision, outcome.claim
    paid = outcome.pays
    values: dict[str, Any] = {
        "status": decision.status,
        "decision": records.decision_record(decision),
        "enrollment_id": outcome.enrollment_id,
        "program_paid": decision.amounts.program_paid,
        "paid_key": claim.key.paid_key() if paid else None,
        "authorization_number": (claim.authorization_number or _authorization_number())
        if paid
        else None,
    }
    if paid and claim.review_state == ReviewState.OPEN:
        values.update(review_state=None, review=None)  # nothing left to review
    elif not paid and decision.reviewable_rules and claim.review_state is None:
        values.update(
            review_state=ReviewState.OPEN,
            review={"state": ReviewState.OPEN, "rules": list(decision.reviewable_rules)},
        )
    return values


def _authorization_number() -> str:
    return secrets.token_hex(6).upper()
