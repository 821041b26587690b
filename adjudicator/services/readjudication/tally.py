"""What a chunk adds to its job: the summary's counts and the changed claims (one Change
each, domain/records.py), recorded with the job's progress in the chunk's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adjudicator.domain.records import Change
from adjudicator.domain.replay import Outcome, YearReplay
from adjudicator.services.unit_of_work import Jobs


class LeaseLost(RuntimeError):
    """Another worker took the job over (this one stopped renewing its lease in time)."""


@dataclass
class Tally:
    """A chunk's contribution to the job's summary, and its changed claims."""

    claims: int = 0
    before: int = 0  # program_paid, in cents
    after: int = 0
    changes: list[Change] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)  # the changed ones replayed here

    @property
    def changed(self) -> int:
        return len(self.changes)

    @property
    def unchanged(self) -> int:
        return self.claims - self.changed

    def add(self, years: Iterable[YearReplay]) -> None:
        for year in years:
            outcomes = year.outcomes
            self.claims += len(outcomes)
            for outcome in outcomes:
                self.before += outcome.claim.program_paid
                self.after += outcome.after_paid
                if outcome.changed:
                    self.outcomes.append(outcome)
                    self.changes.append(outcome.change())

    def merge(self, other: Tally) -> None:
        self.claims += other.claims
        self.before += other.before
        self.after += other.after
        self.changes.extend(other.changes)
        self.outcomes.extend(other.outcomes)

    def to_json(self) -> dict[str, Any]:
        """What a helper process sends back for a chunk (parallel_dry_run.py)."""
        return {
            "claims": self.claims,
            "before": self.before,
            "after": self.after,
            "changes": [change.to_json() for change in self.changes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        changes = [Change.from_json(item) for item in data["changes"]]
        return cls(data["claims"], data["before"], data["after"], changes)


def merged(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


@dataclass(frozen=True)
class Runner:
    """This run of a job: it writes to the job only while it holds the job's lease."""

    job_id: str
    runner_id: str  # stamped in the job row while this run holds it
    lease: Callable[[], datetime]  # when a lease taken now runs out

    def record(self, jobs: Jobs, tally: Tally, resume_after: str) -> None:
        """Add a chunk to the job (in the chunk's own transaction): its changes, its counts,
        where to resume; and renew the lease. Raises LeaseLost."""
        jobs.add_changes(self.job_id, tally.changes)
        if not jobs.add_progress(
            self.job_id,
            self.runner_id,
            resume_after=resume_after,
            lease_until=self.lease(),
            claims=tally.claims,
            unchanged=tally.unchanged,
            changed=tally.changed,
            before=tally.before,
            after=tally.after,
        ):
            raise LeaseLost(self.job_id)
