"""In-memory stand-ins for the ledger, the accumulator and the decision channel, for unit
tests of the use cases. tests/integration/test_contracts.py holds each to the behaviour
of the real adapter (SQLite or PostgreSQL, Redis)."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from adjudicator.adapters.accumulator import Release, Reservation, Snapshot
from adjudicator.adapters.decision_channel import DONE
from adjudicator.config import Config
from adjudicator.domain.adjudicate import grant
from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey, ReviewState
from adjudicator.domain.payments import MoneyEvent, owed_for
from adjudicator.domain.records import (
    JSON,
    ClaimRecord,
    ClaimToDecide,
    EnrollmentRecord,
    EventRecord,
    PharmacyRecord,
    SwitchRecord,
    UserRecord,
)
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import (
    ClaimFilter,
    ClaimRef,
    DuplicatePaidKey,
    ExportedClaim,
    Grant,
    KeyedClaim,
    MoneyMismatch,
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Tables:
    pharmacies: dict[str, PharmacyRecord] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    switches: dict[str, SwitchRecord] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    enrollments: dict[str, EnrollmentRecord] = field(default_factory=dict)
    claims: dict[str, ClaimRecord] = field(default_factory=dict)  # in the order stored
    events: list[EventRecord] = field(default_factory=list)
    terms: dict[str, tuple[date, JSON, datetime]] = field(default_factory=dict)
    money: list[tuple[datetime, MoneyEvent]] = field(default_factory=list)
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class MemoryCredentials:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def pharmacy_by_key_hash(self, key_hash: str) -> PharmacyRecord | None:
        return next((p for p in self._t.pharmacies.values() if p.api_key_hash == key_hash), None)

    def user_by_token_hash(self, token_hash: str) -> UserRecord | None:
        return next((u for u in self._t.users.values() if u.token_hash == token_hash), None)

    def user_by_name(self, username: str) -> UserRecord | None:
        return self._t.users.get(username)

    def pharmacy(self, npi: str) -> PharmacyRecord | None:
        return self._t.pharmacies.get(npi)

    def save_pharmacy(self, pharmacy: PharmacyRecord) -> None:
        self._t.pharmacies[pharmacy.npi] = pharmacy

    def save_user(self, user: UserRecord) -> None:
        self._t.users[user.username] = user

    def switch_by_key_hash(self, key_hash: str) -> SwitchRecord | None:
        return next((s for s in self._t.switches.values() if s.api_key_hash == key_hash), None)

    def switch(self, name: str) -> SwitchRecord | None:
        return self._t.switches.get(name)

    def save_switch(self, switch: SwitchRecord) -> None:
        self._t.switches[switch.name] = switch


class MemoryMembers:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def exists(self, cardholder_id: str, *, lock: bool = False) -> bool:
        return cardholder_id in self._t.members

    def add(self, cardholder_id: str) -> None:
        self._t.members.add(cardholder_id)

    def years_of(self, cardholder_id: str) -> list[EnrollmentRecord]:
        years = [y for y in self._t.enrollments.values() if y.cardholder_id == cardholder_id]
        return sorted(years, key=lambda y: y.period_start)

    def lock_year(self, enrollment_id: str) -> None:
        return None  # one writer at a time already

    def enrollment(self, enrollment_id: str, *, lock: bool = False) -> EnrollmentRecord | None:
        return self._t.enrollments.get(enrollment_id)

    def add_enrollment(self, year: EnrollmentRecord) -> None:
        now = _now()
        self._t.enrollments[year.enrollment_id] = dataclasses.replace(
            year, created_at=now, updated_at=now
        )

    def update_enrollment(
        self, enrollment_id: str, *, facts: JSON, status: str, reasons: list[JSON], cash_pay: bool
    ) -> None:
        year = self._t.enrollments[enrollment_id]
        self._t.enrollments[enrollment_id] = dataclasses.replace(
            year, facts=facts, status=status, reasons=reasons, cash_pay=cash_pay, updated_at=_now()
        )


class MemoryClaims:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, claim: ClaimRecord) -> None:
        if claim.claim_id in self._t.claims:
            raise ValueError(f"claim {claim.claim_id} exists")
        stored = dataclasses.replace(claim, seq=self._t.next_seq(), created_at=_now())
        self._t.claims[claim.claim_id] = stored

    def get(self, claim_id: str, *, lock: bool = False) -> ClaimRecord | None:
        return self._t.claims.get(claim_id)

    def to_decide(self, claim_id: str) -> ClaimToDecide | None:
        claim = self._t.claims.get(claim_id)
        if claim is None:
            return None
        pharmacy = self._t.pharmacies.get(claim.pharmacy_npi)
        twin = next(
            (
                c
                for c in self._t.claims.values()
                if c.key == claim.key and c.status == ClaimStatus.PAID and c.claim_id != claim_id
            ),
            None,
        )
        stamps = [created for _effective, _doc, created in self._t.terms.values()]
        return ClaimToDecide(
            record=claim,
            pharmacy_chain=pharmacy.chain if pharmacy else "",
            paid_twin_id=twin.claim_id if twin else None,
            paid_twin_hash=twin.request_hash if twin else None,
            terms_generation=(len(stamps), max(stamps, default=None)),
        )

    def with_key(self, key: NcpdpKey) -> list[KeyedClaim]:
        return [
            KeyedClaim(c.claim_id, c.status, c.request_hash or "")
            for c in self._t.claims.values()
            if c.key == key
        ]

    def discard(self, claim_id: str) -> bool:
        claim = self._t.claims.get(claim_id)
        if claim is None or claim.status != ClaimStatus.RECEIVED:
            return False
        del self._t.claims[claim_id]
        kept = [e for e in self._t.events if (e.entity_type, e.entity_id) != ("claim", claim_id)]
        self._t.events[:] = kept
        return True

    def set_outcome(
        self, claim_id: str, from_status: ClaimStatus, *, review_open: bool = False, **values: Any
    ) -> bool:
        claim = self._t.claims.get(claim_id)
        if claim is None or claim.status != from_status:
            return False
        if review_open and claim.review_state != ReviewState.OPEN:
            return False
        paid_key = values.get("paid_key")
        if paid_key is not None and any(
            c.paid_key == paid_key and c.claim_id != claim_id for c in self._t.claims.values()
        ):
            raise DuplicatePaidKey(claim_id)
        self._t.claims[claim_id] = dataclasses.replace(claim, **values)
        return True

    def reversals_to_release(self, limit: int = 500) -> list[ClaimRef]:
        pending = [c for c in self._t.claims.values() if c.release_pending]
        return [ClaimRef(c.claim_id, c.cardholder_id) for c in pending[:limit]]

    def mark_released(self, claim_id: str) -> None:
        claim = self._t.claims[claim_id]
        if claim.released_at is None:
            self._t.claims[claim_id] = dataclasses.replace(claim, released_at=_now())

    def paid_in_year(self, cardholder_id: str, enrollment_id: str) -> int:
        return sum(
            c.program_paid
            for c in self._t.claims.values()
            if c.cardholder_id == cardholder_id
            and c.enrollment_id == enrollment_id
            and c.status == ClaimStatus.PAID
        )

    def undecided(self, npi: str, at_most: int) -> int:
        received = (c for c in self._t.claims.values() if c.status == ClaimStatus.RECEIVED)
        return min(at_most, sum(c.pharmacy_npi == npi for c in received))

    def stale_received(self, before: datetime, limit: int = 500) -> list[str]:
        received = (c for c in self._t.claims.values() if c.status == ClaimStatus.RECEIVED)
        stale = [c.claim_id for c in received if c.created_at and c.created_at < before]
        return stale[:limit]

    def page(self, where: ClaimFilter, limit: int, after_seq: int | None) -> list[ClaimRecord]:
        def shown(c: ClaimRecord) -> bool:
            return (
                (where.npi is None or c.pharmacy_npi == where.npi)
                and (where.cardholder_id is None or c.cardholder_id == where.cardholder_id)
                and (where.status is None or c.status == where.status)
                and (not where.review_open or c.review_state == ReviewState.OPEN)
                and (where.date_from is None or c.date_of_service >= where.date_from)
                and (where.date_to is None or c.date_of_service <= where.date_to)
            )

        claims = [c for c in self._t.claims.values() if shown(c)]
        if not where.review_open:
            claims.reverse()  # newest first; the review queue oldest first
        if after_seq is not None:
            beyond = (
                (lambda seq: seq > after_seq)
                if where.review_open
                else (lambda seq: seq < after_seq)
            )
            claims = [c for c in claims if beyond(c.seq or 0)]
        return claims[:limit]

    def with_rx(self, rx_numbers: Iterable[str], limit: int) -> list[ClaimRecord]:
        wanted = set(rx_numbers)
        found = [c for c in reversed(self._t.claims.values()) if c.rx_number in wanted]
        return found[:limit]

    def grants(self) -> Iterator[Grant]:
        held = (ClaimStatus.PAID, ClaimStatus.REVERSED)
        claims = sorted(
            (c for c in self._t.claims.values() if c.status in held),
            key=lambda c: (c.cardholder_id, c.seq),
        )
        for c in claims:
            benefit = (c.decision or {}).get("benefit") or {}
            yield Grant(
                c.claim_id, c.cardholder_id, c.enrollment_id or "", c.status, c.program_paid,
                int(benefit.get("used_before", 0)),
            )  # fmt: skip

    def in_year(self, cardholder_id: str, enrollment_id: str) -> list[Grant]:
        return [
            Grant(
                c.claim_id,
                c.cardholder_id,
                enrollment_id,
                c.status,
                c.program_paid,
                int(((c.decision or {}).get("benefit") or {}).get("used_before", 0)),
            )  # fmt: skip
            for c in self._t.claims.values()
            if (c.cardholder_id, c.enrollment_id) == (cardholder_id, enrollment_id)
        ]

    def for_export(self, year: int) -> Iterator[ExportedClaim]:
        for c in self._t.claims.values():
            pharmacy = self._t.pharmacies.get(c.pharmacy_npi)
            if c.date_of_service.year != year or pharmacy is None:
                continue
            if c.status in (ClaimStatus.RECEIVED, ClaimStatus.DUPLICATE):
                continue
            enrollment = self._t.enrollments.get(c.enrollment_id or "")
            yield ExportedClaim(
                c.cardholder_id, c.date_of_service, c.status, c.decision, pharmacy.chain,
                enrollment.facts if enrollment else None,
                enrollment.cash_pay if enrollment else None,
            )  # fmt: skip


class MemoryEvents:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(
        self,
        *,
        actor: str,
        entity_type: str,
        entity_id: str,
        cardholder_id: str | None,
        type: str,
        data: JSON,
    ) -> None:
        event = EventRecord(
            self._t.next_seq(), _now(), actor, entity_type, entity_id, cardholder_id, type,
            copy.deepcopy(data),
        )  # fmt: skip
        self._t.events.append(event)

    def of(self, entity_type: str, entity_id: str) -> list[EventRecord]:
        return [
            e for e in self._t.events if (e.entity_type, e.entity_id) == (entity_type, entity_id)
        ]

    def page(
        self, *, cardholder_id: str | None, claim_id: str | None, limit: int, after_seq: int | None
    ) -> list[EventRecord]:
        found = [
            e
            for e in self._t.events
            if (cardholder_id is None or e.cardholder_id == cardholder_id)
            and (claim_id is None or (e.entity_type, e.entity_id) == ("claim", claim_id))
            and (after_seq is None or e.seq > after_seq)
        ]
        return found[:limit]


class MemoryTerms:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def documents(self) -> list[JSON]:
        stored = sorted(self._t.terms.values(), key=lambda t: t[0])
        return [copy.deepcopy(document) for _effective, document, _created in stored]

    def generation(self) -> tuple[Any, ...]:
        stamps = [created for _effective, _doc, created in self._t.terms.values()]
        return (len(stamps), max(stamps, default=None))

    def add(self, version: str, effective: date, document: JSON, created_by: str) -> None:
        if version in self._t.terms:
            raise ValueError(f"terms version {version} exists")
        self._t.terms[version] = (effective, copy.deepcopy(document), _now())

    def exists(self, version: str) -> bool:
        return version in self._t.terms


class MemoryMoneyEvents:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, events: Sequence[MoneyEvent]) -> None:
        self._t.money += [(_now(), event) for event in events]

    def mismatches(self, limit: int = 100) -> list[MoneyMismatch]:
        totals: dict[str, int] = {}
        for _at, event in self._t.money:
            totals[event.claim_id] = totals.get(event.claim_id, 0) + event.amount
        found = [
            MoneyMismatch(c.claim_id, totals.get(c.claim_id, 0), owed)
            for c in self._t.claims.values()
            if totals.get(c.claim_id, 0) != (owed := owed_for(c.status, c.program_paid))
        ]
        found += [
            MoneyMismatch(claim_id, total, 0)
            for claim_id, total in totals.items()
            if claim_id not in self._t.claims and total != 0
        ]
        return found[:limit]


class MemoryUnitOfWork:
    def __init__(self, tables: _Tables) -> None:
        self.credentials = MemoryCredentials(tables)
        self.members = MemoryMembers(tables)
        self.claims = MemoryClaims(tables)
        self.events = MemoryEvents(tables)
        self.terms = MemoryTerms(tables)
        self.money = MemoryMoneyEvents(tables)


class MemoryLedger:
    """One writer at a time; a unit of work that raises leaves the tables as they were."""

    def __init__(self) -> None:
        self._tables = _Tables()
        self._writer = threading.RLock()

    @contextmanager
    def writing(self) -> Iterator[MemoryUnitOfWork]:
        with self._writer:
            before = copy.deepcopy(self._tables)
            try:
                yield MemoryUnitOfWork(self._tables)
            except BaseException:
                self._tables = before
                raise

    @contextmanager
    def reading(self, **_options: Any) -> Iterator[MemoryUnitOfWork]:
        yield MemoryUnitOfWork(self._tables)

    def now(self) -> datetime:
        return _now()

    writers_poll = False  # a waiting writer takes the lock as soon as it is free

    def ping(self) -> None:
        return None

    def dispose(self) -> None:
        return None


class MemoryAccumulator:
    """The Lua scripts' arithmetic: one grant per claim id, released at most once."""

    def __init__(self) -> None:
        self._used: dict[str, dict[str, int]] = {}
        self._grants: dict[str, dict[str, tuple[str, int, int]]] = {}
        self._released: dict[str, set[str]] = {}
        self._epoch = False
        self._corrections = 0
        self._last_check: int | None = None

    def _of(self, cardholder_id: str) -> tuple[dict[str, int], dict[str, Any], set[str]]:
        if not cardholder_id:
            raise ValueError("cardholder_id must not be empty")
        return (
            self._used.setdefault(cardholder_id, {}),
            self._grants.setdefault(cardholder_id, {}),
            self._released.setdefault(cardholder_id, set()),
        )

    def reserve(
        self,
        cardholder_id: str,
        enrollment_id: str,
        claim_id: str,
        requested_cents: int,
        annual_max_cents: int,
    ) -> Reservation:
        used, grants, _released = self._of(cardholder_id)
        if claim_id in grants:
            _year, granted, used_before = grants[claim_id]
            return Reservation(used_before, granted, True)
        before = used.get(enrollment_id, 0)
        granted = grant(requested_cents, before, annual_max_cents)
        used[enrollment_id] = before + granted
        grants[claim_id] = (enrollment_id, granted, before)
        return Reservation(before, granted, False)

    def rebill(
        self,
        cardholder_id: str,
        enrollment_id: str,
        claim_id: str,
        requested_cents: int,
        annual_max_cents: int,
        replaces: str,
    ) -> Reservation:
        used, grants, released = self._of(cardholder_id)
        if claim_id in grants:
            _year, granted, used_before = grants[claim_id]
            return Reservation(used_before, granted, True)
        old = grants.get(replaces) if replaces not in released else None
        before = used.get(enrollment_id, 0) - (old[1] if old and old[0] == enrollment_id else 0)
        granted = grant(requested_cents, before, annual_max_cents)
        if granted <= 0:
            return Reservation(before, 0, False)
        if old is not None:
            released.add(replaces)
            used[old[0]] = used.get(old[0], 0) - old[1]
        used[enrollment_id] = used.get(enrollment_id, 0) + granted
        grants[claim_id] = (enrollment_id, granted, before)
        return Reservation(before, granted, False)

    def undo_rebill(
        self, cardholder_id: str, claim_id: str, replaces: str, *, restore: bool
    ) -> tuple[int, int]:
        used, grants, released = self._of(cardholder_id)
        forgotten = restored = 0
        if claim_id in grants:
            year, granted, _before = grants.pop(claim_id)
            if claim_id not in released:
                forgotten = granted
                used[year] = used.get(year, 0) - granted
            released.discard(claim_id)
        if restore and replaces in grants and replaces in released:
            released.discard(replaces)
            year, restored, _before = grants[replaces]
            used[year] = used.get(year, 0) + restored
        return forgotten, restored

    def release(self, cardholder_id: str, claim_id: str) -> Release:
        return self._give_back(cardholder_id, claim_id, forget=False)

    def cancel(self, cardholder_id: str, claim_id: str) -> Release:
        return self._give_back(cardholder_id, claim_id, forget=True)

    def _give_back(self, cardholder_id: str, claim_id: str, *, forget: bool) -> Release:
        used, grants, released = self._of(cardholder_id)
        if claim_id not in grants:
            return Release(None, 0, None)
        year, granted, _before = grants[claim_id]
        given = 0
        if claim_id not in released:
            released.add(claim_id)
            given = granted
            used[year] = used.get(year, 0) - granted
        if forget:
            del grants[claim_id]
            released.discard(claim_id)
        return Release(year, given, used.get(year, 0))

    def used(self, cardholder_id: str, enrollment_id: str) -> int:
        return self._used.get(cardholder_id, {}).get(enrollment_id, 0)

    def snapshot(self, cardholder_id: str) -> Snapshot:
        return {
            "used": dict(self._used.get(cardholder_id, {})),
            "grants": dict(self._grants.get(cardholder_id, {})),
            "released": set(self._released.get(cardholder_id, set())),
        }

    def replace(
        self,
        cardholder_id: str,
        used_by_year: dict[str, int],
        grants: dict[str, tuple[str, int, int]],
        released: set[str],
    ) -> None:
        self._used[cardholder_id] = dict(used_by_year)
        self._grants[cardholder_id] = dict(grants)
        self._released[cardholder_id] = set(released)

    def commit_replay_many(
        self, years: list[tuple[str, str, dict[str, tuple[int, int]], list[str]]]
    ) -> list[int]:
        totals = []
        for cardholder_id, year, grants, cleared in years:
            used, held, released = self._of(cardholder_id)
            for claim_id, (cents, used_before) in grants.items():
                held[claim_id] = (year, cents, used_before)
            for claim_id in cleared:
                held.pop(claim_id, None)
                released.discard(claim_id)
            used[year] = sum(
                cents
                for claim_id, (grant_year, cents, _before) in held.items()
                if grant_year == year and claim_id not in released
            )
            totals.append(used[year])
        return totals

    def mark_epoch(self) -> bool:
        marked, self._epoch = self._epoch, True
        return not marked

    def record_check(self, mismatches: int) -> None:
        self._last_check = mismatches

    def last_check(self) -> int | None:
        return self._last_check

    def count_correction(self) -> None:
        self._corrections += 1

    def corrections(self) -> int:
        return self._corrections

    def forget_everything(self) -> None:
        """What a Redis that comes back empty knows."""
        self.__init__()  # type: ignore[misc]  # the state of a new one

    def cardholders(self) -> Iterator[str]:
        for cardholder_id in list(self._used):
            if (
                self._used[cardholder_id]
                or self._grants.get(cardholder_id)
                or self._released.get(cardholder_id)
            ):
                yield cardholder_id


class MemoryDecisions:
    """The decision channel: claims published, answers announced and awaited."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.waited: list[str] = []  # those published on the queue workers take first
        self.worker: Callable[[str], None] | None = None  # runs a published claim at once
        self.queued = 0  # what backlog() answers
        self._answers: dict[str, deque[bytes]] = {}

    def publish(self, claim_id: str, *, waited: bool = False) -> bool:
        self.published.append(claim_id)
        if waited:
            self.waited.append(claim_id)
        if self.worker is not None:
            self.worker(claim_id)
        return True

    def backlog(self) -> int:
        return self.queued

    def announce(self, claim_id: str, answer: str | None = None) -> None:
        self._answers.setdefault(claim_id, deque()).append(answer.encode() if answer else DONE)

    def await_answer(self, claim_id: str, timeout: float) -> bytes | None:
        waiting = self._answers.get(claim_id)
        return waiting.popleft() if waiting else None


def memory_runtime(**config: Any) -> Runtime:
    """A Runtime of fakes: no SQL, no Redis, no Celery."""
    from pathlib import Path

    from adjudicator.domain.terms import bundled_terms

    ledger = MemoryLedger()
    with ledger.writing() as uow:
        for terms in bundled_terms():
            uow.terms.add(terms.version, terms.effective_date, terms.to_document(), "system")
    settings = Config(data_dir=Path("/nonexistent"), database_url="memory://", redis_url=None)
    return Runtime(
        config=dataclasses.replace(settings, **config),
        ledger=ledger,
        redis=None,  # type: ignore[arg-type]  # nothing of these use cases touches Redis itself
        accumulator=MemoryAccumulator(),  # type: ignore[arg-type]  # the same methods
        decisions=MemoryDecisions(),  # type: ignore[arg-type]  # the same methods
        send_job=lambda _job_id: None,
    )
