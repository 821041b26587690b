"""The SQL ledger behind the unit of work: one connection and transaction per unit, the
statements of adapters/ledger.py, and each row mapped onto its typed record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, text
from sqlalchemy.exc import IntegrityError

from adjudicator.adapters import ledger
from adjudicator.adapters.db import make_engine, reading
from adjudicator.adapters.money_ledger import SqlMoneyEvents
from adjudicator.adapters.payments_ledger import SqlPayments
from adjudicator.adapters.program_ledger import SqlProgramReport
from adjudicator.adapters.readjudication import SqlJobs
from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey, ReviewState
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
from adjudicator.services.unit_of_work import (
    ClaimFilter,
    ClaimRef,
    DuplicatePaidKey,
    ExportedClaim,
    Grant,
    KeyedClaim,
)

_CLAIM_FIELDS = tuple(f.name for f in fields(ClaimRecord))
_ENROLLMENT_FIELDS = tuple(f.name for f in fields(EnrollmentRecord))


def claim_record(row: Row[Any]) -> ClaimRecord:
    """A claims row (or a row with the claims columns among others) as its record."""
    mapping = row._mapping
    values = {name: mapping[name] for name in _CLAIM_FIELDS if name in mapping}
    values["status"] = ClaimStatus(values["status"])
    if values.get("review_state") is not None:
        values["review_state"] = ReviewState(values["review_state"])
    return ClaimRecord(**values)


def enrollment_record(row: Row[Any]) -> EnrollmentRecord:
    mapping = row._mapping
    return EnrollmentRecord(**{name: mapping[name] for name in _ENROLLMENT_FIELDS})


def _pharmacy(row: Row[Any] | None) -> PharmacyRecord | None:
    if row is None:
        return None
    return PharmacyRecord(row.npi, row.name, row.chain, row.api_key_hash)


def _switch(row: Row[Any] | None) -> SwitchRecord | None:
    return SwitchRecord(row.name, row.api_key_hash) if row is not None else None


def _user(row: Row[Any] | None) -> UserRecord | None:
    if row is None:
        return None
    return UserRecord(row.username, row.role, row.token_hash, row.password_hash)


def _event(row: Row[Any]) -> EventRecord:
    return EventRecord(
        row.seq, row.at, row.actor, row.entity_type, row.entity_id, row.cardholder_id, row.type,
        row.data,
    )  # fmt: skip


def _grant(row: Row[Any]) -> Grant:
    benefit = (row.decision or {}).get("benefit") or {}
    return Grant(
        row.claim_id, row.cardholder_id, row.enrollment_id, ClaimStatus(row.status),
        row.program_paid, int(benefit.get("used_before", 0)),
    )  # fmt: skip


class SqlCredentials:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def pharmacy_by_key_hash(self, key_hash: str) -> PharmacyRecord | None:
        return _pharmacy(ledger.pharmacy_by_key_hash(self._conn, key_hash))

    def user_by_token_hash(self, token_hash: str) -> UserRecord | None:
        return _user(ledger.user_by_token_hash(self._conn, token_hash))

    def user_by_name(self, username: str) -> UserRecord | None:
        return _user(ledger.user_by_name(self._conn, username))

    def pharmacy(self, npi: str) -> PharmacyRecord | None:
        return _pharmacy(ledger.pharmacy_by_npi(self._conn, npi))

    def save_pharmacy(self, pharmacy: PharmacyRecord) -> None:
        p = pharmacy
        ledger.upsert_pharmacy(self._conn, p.npi, p.name, p.chain, p.api_key_hash)

    def save_user(self, user: UserRecord) -> None:
        u = user
        ledger.upsert_user(self._conn, u.username, u.role, u.token_hash, u.password_hash)

    def switch_by_key_hash(self, key_hash: str) -> SwitchRecord | None:
        return _switch(ledger.switch_by_key_hash(self._conn, key_hash))

    def switch(self, name: str) -> SwitchRecord | None:
        return _switch(ledger.switch_by_name(self._conn, name))

    def save_switch(self, switch: SwitchRecord) -> None:
        ledger.upsert_switch(self._conn, switch.name, switch.api_key_hash)


class SqlMembers:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def exists(self, cardholder_id: str, *, lock: bool = False) -> bool:
        return ledger.member_exists(self._conn, cardholder_id, lock=lock)

    def add(self, cardholder_id: str) -> None:
        ledger.insert_member(self._conn, cardholder_id)

    def years_of(self, cardholder_id: str) -> list[EnrollmentRecord]:
        return [enrollment_record(r) for r in ledger.enrollments_of(self._conn, cardholder_id)]

    def lock_year(self, enrollment_id: str) -> None:
        ledger.lock_enrollment(self._conn, enrollment_id)

    def enrollment(self, enrollment_id: str, *, lock: bool = False) -> EnrollmentRecord | None:
        row = ledger.enrollment(self._conn, enrollment_id, lock=lock)
        return enrollment_record(row) if row is not None else None

    def add_enrollment(self, year: EnrollmentRecord) -> None:
        values = {name: getattr(year, name) for name in _ENROLLMENT_FIELDS}
        del values["created_at"], values["updated_at"]  # stamped by the ledger
        ledger.insert_enrollment(self._conn, **values)

    def update_enrollment(
        self, enrollment_id: str, *, facts: JSON, status: str, reasons: list[JSON], cash_pay: bool
    ) -> None:
        ledger.update_enrollment(
            self._conn, enrollment_id, facts=facts, status=status, reasons=reasons,
            cash_pay=cash_pay,
        )  # fmt: skip


class SqlClaims:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, claim: ClaimRecord) -> None:
        values = {
            name: getattr(claim, name)
            for name in _CLAIM_FIELDS
            if getattr(claim, name) is not None and name != "seq"
        }
        ledger.insert_claim(self._conn, **values)

    def get(self, claim_id: str, *, lock: bool = False) -> ClaimRecord | None:
        row = ledger.claim(self._conn, claim_id, lock=lock)
        return claim_record(row) if row is not None else None

    def to_decide(self, claim_id: str) -> ClaimToDecide | None:
        row = ledger.claim_to_decide(self._conn, claim_id)
        if row is None:
            return None
        return ClaimToDecide(
            record=claim_record(row),
            pharmacy_chain=row.pharmacy_chain or "",
            paid_twin_id=row.paid_twin_id,
            paid_twin_hash=row.paid_twin_hash,
            terms_generation=(row.terms_count, row.terms_changed_at),
        )

    def with_key(self, key: NcpdpKey) -> list[KeyedClaim]:
        rows = ledger.claims_with_key(
            self._conn, key.service_provider_id, key.rx_number, key.fill_number,
            key.date_of_service,
        )  # fmt: skip
        return [KeyedClaim(r.claim_id, ClaimStatus(r.status), r.request_hash) for r in rows]

    def set_outcome(
        self, claim_id: str, from_status: ClaimStatus, *, review_open: bool = False, **values: Any
    ) -> bool:
        try:
            return ledger.set_claim_outcome(
                self._conn, claim_id, from_status, review_open=review_open, **values
            )
        except IntegrityError as error:
            raise DuplicatePaidKey(claim_id) from error

    def counts(self) -> dict[tuple[str, str], int]:
        return ledger.claim_counts(self._conn)

    def discard(self, claim_id: str) -> bool:
        return ledger.discard_received_claim(self._conn, claim_id)

    def reversals_to_release(self, limit: int = 500) -> list[ClaimRef]:
        return [
            ClaimRef(r.claim_id, r.cardholder_id)
            for r in ledger.reversals_to_release(self._conn, limit)
        ]

    def mark_released(self, claim_id: str) -> None:
        ledger.mark_released(self._conn, claim_id)

    def paid_in_year(self, cardholder_id: str, enrollment_id: str) -> int:
        return ledger.paid_in_year(self._conn, cardholder_id, enrollment_id)

    def undecided(self, npi: str, at_most: int) -> int:
        return ledger.undecided(self._conn, npi, at_most)

    def stale_received(self, before: datetime, limit: int = 500) -> list[str]:
        return ledger.stale_received(self._conn, before, limit)

    def page(self, where: ClaimFilter, limit: int, after_seq: int | None) -> list[ClaimRecord]:
        rows = ledger.list_claims(
            self._conn,
            npi=where.npi,
            cardholder_id=where.cardholder_id,
            status=where.status,
            review_open=where.review_open,
            date_from=where.date_from,
            date_to=where.date_to,
            limit=limit,
            after_seq=after_seq,
        )
        return [claim_record(r) for r in rows]

    def with_rx(self, rx_numbers: Iterable[str], limit: int) -> list[ClaimRecord]:
        return [claim_record(r) for r in ledger.claims_with_rx(self._conn, rx_numbers, limit)]

    def grants(self) -> Iterator[Grant]:
        return (_grant(row) for row in ledger.granted_claims(self._conn))

    def in_year(self, cardholder_id: str, enrollment_id: str) -> list[Grant]:
        return [
            _grant(row) for row in ledger.claims_in_year(self._conn, cardholder_id, enrollment_id)
        ]

    def for_export(self, year: int) -> Iterator[ExportedClaim]:
        for row in ledger.claims_for_export(self._conn, year):
            yield ExportedClaim(
                row.cardholder_id, row.date_of_service, ClaimStatus(row.status), row.decision,
                row.chain, row.facts, row.cash_pay,
            )  # fmt: skip


class SqlEvents:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

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
        ledger.add_event(
            self._conn, actor=actor, entity_type=entity_type, entity_id=entity_id,
            cardholder_id=cardholder_id, type=type, data=data,
        )  # fmt: skip

    def of(self, entity_type: str, entity_id: str) -> list[EventRecord]:
        return [_event(r) for r in ledger.events_of(self._conn, entity_type, entity_id)]

    def page(
        self, *, cardholder_id: str | None, claim_id: str | None, limit: int, after_seq: int | None
    ) -> list[EventRecord]:
        rows = ledger.audit_events(
            self._conn, cardholder_id=cardholder_id, claim_id=claim_id, limit=limit,
            after_seq=after_seq,
        )  # fmt: skip
        return [_event(r) for r in rows]


class SqlTerms:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def documents(self) -> list[JSON]:
        return ledger.terms_documents(self._conn)

    def generation(self) -> tuple[Any, ...]:
        return ledger.terms_generation(self._conn)

    def add(self, version: str, effective: date, document: JSON, created_by: str) -> None:
        ledger.insert_terms(self._conn, version, effective, document, created_by)

    def exists(self, version: str) -> bool:
        return ledger.terms_version_exists(self._conn, version)


class SqlUnitOfWork:
    """The repositories over one connection (and its transaction, when writing)."""

    __slots__ = (
        "credentials", "members", "claims", "events", "terms", "money", "payments", "jobs",
        "program",
    )  # fmt: skip

    def __init__(self, conn: Connection) -> None:
        self.credentials = SqlCredentials(conn)
        self.members = SqlMembers(conn)
        self.claims = SqlClaims(conn)
        self.events = SqlEvents(conn)
        self.terms = SqlTerms(conn)
        self.money = SqlMoneyEvents(conn)
        self.payments = SqlPayments(conn)
        self.jobs = SqlJobs(conn)
        self.program = SqlProgramReport(conn)


class SqlLedger:
    """Units of work over one engine (pooled connections, prebuilt statements)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> SqlLedger:
        return cls(make_engine(url))

    @contextmanager
    def writing(self) -> Iterator[SqlUnitOfWork]:
        with self.engine.begin() as conn:
            yield SqlUnitOfWork(conn)

    @contextmanager
    def reading(self, **options: Any) -> Iterator[SqlUnitOfWork]:
        with reading(self.engine, **options) as conn:
            yield SqlUnitOfWork(conn)

    def now(self) -> datetime:
        return ledger.now()

    @property
    def writers_poll(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def ping(self) -> None:
        with reading(self.engine) as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
