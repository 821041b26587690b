"""Apply one cardholder's replayed years: the new decisions in SQL, the totals in Redis.

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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from adjudicator.adapters.accumulator import ReplayInFlight
from adjudicator.domain.outcomes import ReviewState
from adjudicator.domain.payments import money_moved, owed_for
from adjudicator.domain.replay import Outcome, Window, YearReplay
from adjudicator.domain.terms import Terms
from adjudicator.services import records
from adjudicator.services.decided import authorization_number
from adjudicator.services.readjudication.load import (
    NOTHING,
    CardholderReplay,
    fingerprints,
    load_replays,
)
from adjudicator.services.readjudication.tally import Runner, Tally, merged
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import DuplicatePaidKey, UnitOfWork

log = logging.getLogger(__name__)

IN_FLIGHT_PATIENCE = 60.0  # seconds to wait for a claim in flight before the job fails
GROUP_CARDHOLDERS = 8  # changed cardholders written per transaction
MAX_PAUSE = 0.05  # seconds; SQLite: the longest pause after a write transaction

Held = list[tuple[str, str, YearReplay]]  # (cardholder, enrollment_id, year) held in Redis


class Applier:
    def __init__(
        self, rt: Runtime, runner: Runner, window: Window, terms_on: Callable[[date], Terms]
    ) -> None:
        self.rt = rt
        self.runner = runner
        self.window = window
        self.terms_on = terms_on
        self.actor = f"readjudication:{runner.job_id}"

    def apply_chunk(self, cardholders: list[str]) -> int:
        """Apply a chunk: one read and replay outside any lock, then the changed cardholders
        in small groups, each group one transaction; unchanged cardholders cost the read."""
        with self.rt.ledger.reading() as uow:
            first_look = load_replays(
                uow.jobs, cardholders, self.window, self.terms_on, with_decision=True
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
            tally = merged(t for _, t in pending)
            with self._write_lock() as uow:
                self.runner.record(uow.jobs, tally, cardholders[-1])
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
        held: Held = []
        tally = merged(t for _, t in pending)
        try:
            with self._write_lock() as uow:
                jobs = uow.jobs
                locked = fingerprints(jobs, group, self.window)
                if any(locked.get(c, NOTHING) != first_look[c].fingerprint for c in group):
                    raise _Moved
                years = [(c, year) for c in group for year in first_look[c].years]
                self._hold(years, held)
                tally.add(year for _, year in years)
                self._write(uow, tally)
                self.runner.record(jobs, tally, reached)
        except (_Moved, ReplayInFlight, DuplicatePaidKey):
            self._undo_holds(held)
            done = 0
            for cardholder in group:
                done += self._apply_cardholder(cardholder, _take(pending, upto=cardholder))
            if pending:  # unchanged cardholders after the group's last one
                rest = merged(t for _, t in pending)
                with self._write_lock() as uow:
                    self.runner.record(uow.jobs, rest, reached)
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
            held: Held = []
            try:
                with self._write_lock() as uow:
                    jobs = uow.jobs
                    replay = load_replays(
                        jobs, [cardholder], self.window, self.terms_on, for_update=True
                    )[cardholder]
                    self._hold([(cardholder, year) for year in replay.years], held)
                    tally = Tally()
                    tally.add(replay.years)
                    self._write(uow, tally)
                    tally.merge(earlier)
                    self.runner.record(jobs, tally, cardholder)
            except (ReplayInFlight, DuplicatePaidKey) as busy:
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
    def _write_lock(self) -> Iterator[UnitOfWork]:
        """A write transaction; on SQLite, pause as long as it held the lock afterwards.

        SQLite has one writer at a time and a waiting writer polls with growing sleeps, so
        back-to-back transactions would starve the pharmacy claims' writes. Leaving the lock
        free at least half the time keeps them flowing (PostgreSQL locks rows instead)."""
        began = time.monotonic()
        with self.rt.ledger.writing() as uow:
            yield uow
        if self.rt.ledger.writers_poll:
            time.sleep(min(time.monotonic() - began, MAX_PAUSE))

    def _hold(self, years: list[tuple[str, YearReplay]], held: Held) -> None:
        """Hold every changed year (see the module's docstring) in one round trip; `held`
        lists the years to undo if the transaction does not commit."""
        changed = [
            (c, y.enrollment_id, y) for c, y in years if y.enrollment_id is not None and y.changed
        ]
        if not changed:
            return
        held.extend(changed)  # a refusal may leave some held: undoing any year is safe
        self.rt.accumulator.hold_for_replay_many(
            [(c, e, y.total, y.states()) for c, e, y in changed]
        )

    def _commit_holds(self, held: Held) -> None:
        if held:
            self.rt.accumulator.commit_replay_many(
                [(c, e, y.grants, y.cleared()) for c, e, y in held]
            )

    def _write(self, uow: UnitOfWork, tally: Tally) -> None:
        jobs = uow.jobs
        # Claims that stop paying first: a claim paid now may take the NCPDP key they free.
        outcomes = sorted(tally.outcomes, key=lambda o: o.pays)
        decisions = [
            (o.claim.claim_id, o.claim.status, o.claim.program_paid, _claim_values(o))
            for o in outcomes
        ]
        if not jobs.set_readjudicated(decisions):
            raise ReplayInFlight("moved", outcomes[0].claim.claim_id)
        stamp = self.rt.ledger.now()
        jobs.add_claim_events(
            [
                {
                    "at": stamp,
                    "actor": self.actor,
                    "entity_type": "claim",
                    "entity_id": o.claim.claim_id,
                    "cardholder_id": o.claim.cardholder_id,
                    "type": "readjudicated",
                    "data": {
                        "job_id": self.runner.job_id,
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
        uow.money.add(
            [
                moved
                for o in outcomes
                if (
                    moved := money_moved(
                        o.claim.claim_id,
                        o.claim.pharmacy_npi,
                        owed_for(o.claim.status, o.claim.program_paid),
                        owed_for(o.decision.status, o.after_paid),
                    )
                )
                is not None
            ]
        )

    def _undo_holds(self, held: Held) -> None:
        """Rewrite held years from the ledger as it still is (their SQL never committed)."""
        if not held:
            return
        try:
            self.rt.accumulator.commit_replay_many([(c, e, *y.ledger_grants()) for c, e, y in held])
        except Exception as error:  # the original failure matters more; check/rebuild heal
            log.error("could not undo a re-adjudication hold: %s", type(error).__name__)

    def resync(self, cardholder: str) -> None:
        """Set the cardholder's touched years in Redis from the ledger (after a crash)."""
        with self.rt.ledger.reading() as uow:
            replays = load_replays(
                uow.jobs, [cardholder], self.window, self.terms_on, with_decision=True
            )
        resync = [
            (cardholder, year.enrollment_id, *year.ledger_grants())
            for year in replays[cardholder].years
            if year.enrollment_id is not None
        ]
        if resync:
            self.rt.accumulator.commit_replay_many(resync)


class _Moved(Exception):
    """A cardholder's claims or enrollment changed between the first look and the lock."""


def _take(pending: list[tuple[str, Tally]], upto: str) -> Tally:
    """Remove and merge the pending cardholders that come before `upto`."""
    taken = [tally for cardholder, tally in pending if cardholder < upto]
    pending[:] = [entry for entry in pending if entry[0] >= upto]
    return merged(taken)


def _claim_values(outcome: Outcome) -> dict[str, Any]:
    decision, claim = outcome.decision, outcome.claim
    paid = outcome.pays
    values: dict[str, Any] = {
        "status": decision.status,
        "decision": records.decision_record(decision),
        "enrollment_id": outcome.enrollment_id,
        "program_paid": decision.amounts.program_paid,
        "paid_key": claim.key.paid_key() if paid else None,
        "authorization_number": (claim.authorization_number or authorization_number())
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
