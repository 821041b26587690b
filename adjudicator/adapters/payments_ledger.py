"""Payment cycles and remittances in SQL (PAYMENTS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, text, update

from adjudicator.adapters.ledger import EXPORT_COLUMNS
from adjudicator.adapters.tables import (
    claims,
    enrollments,
    money_events,
    payment_cycles,
    pharmacies,
    remittances,
)
from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.domain.payments import (
    CycleRecord,
    MoneyKind,
    PharmacyTotal,
    RemittanceLine,
    RemittanceRecord,
    RemittanceTotals,
)
from adjudicator.domain.records import as_utc
from adjudicator.services.unit_of_work import ExportedClaim, PharmacyLedger, RemittedClaim

_CLOSES_LOCK = 7_320_112  # PostgreSQL advisory lock id: one cycle close at a time

_LATEST_CYCLE = select(payment_cycles).order_by(payment_cycles.c.seq.desc()).limit(1)
_TAKE = (
    update(money_events)
    .where(
        money_events.c.cycle_id.is_(None),
        # Typed: the column's own format on SQLite, where a raw datetime would compare as text.
        money_events.c.at <= bindparam("through", type_=money_events.c.at.type),
    )
    .values(cycle_id=bindparam("cycle"))
)
_TAKEN = (
    select(
        money_events.c.pharmacy_npi,
        func.count().label("events"),
        func.sum(money_events.c.amount).label("total"),
    )
    .where(money_events.c.cycle_id == text(":cycle"))
    .group_by(money_events.c.pharmacy_npi)
    .order_by(money_events.c.pharmacy_npi)
)
_EARLIER = money_events.alias("earlier")
_PRIOR = (
    select(func.coalesce(func.sum(_EARLIER.c.amount), 0))
    .where(_EARLIER.c.claim_id == money_events.c.claim_id, _EARLIER.c.seq < money_events.c.seq)
    .scalar_subquery()
)
_REMITTED = (
    select(
        money_events.c.claim_id,
        claims.c.rx_number,
        claims.c.fill_number,
        claims.c.date_of_service,
        money_events.c.kind,
        money_events.c.amount,
        _PRIOR.label("prior"),
        claims.c.decision,
        enrollments.c.facts,
    )  # fmt: skip
    .select_from(
        money_events.join(claims, claims.c.claim_id == money_events.c.claim_id).outerjoin(
            enrollments, enrollments.c.enrollment_id == claims.c.enrollment_id
        )
    )
    .where(
        money_events.c.cycle_id == bindparam("cycle"),
        money_events.c.pharmacy_npi == bindparam("npi"),
    )
    .order_by(money_events.c.seq)
)
_INVOICE_LINES = (
    select(*EXPORT_COLUMNS, money_events.c.kind, money_events.c.amount)
    .select_from(
        money_events.join(claims, claims.c.claim_id == money_events.c.claim_id)
        .join(pharmacies, pharmacies.c.npi == claims.c.pharmacy_npi)
        .outerjoin(enrollments, enrollments.c.enrollment_id == claims.c.enrollment_id)
    )
    .where(money_events.c.cycle_id == bindparam("cycle"))
    .order_by(money_events.c.seq)
)
_LATEST_OWED = (
    select(remittances.c.owed)
    .where(remittances.c.npi == text(":npi"))
    .order_by(remittances.c.seq.desc())
    .limit(1)
)


def _cycle(row: Any) -> CycleRecord:
    return CycleRecord(
        row.cycle_id, as_utc(row.through), as_utc(row.closed_at), row.closed_by, int(row.events),
        int(row.pharmacies), int(row.total), int(row.sent), row.seq,
    )  # fmt: skip


def _remittance(row: Any) -> RemittanceRecord:
    totals = RemittanceTotals(int(row.total), int(row.balance_forward), int(row.payment),
                              int(row.owed))  # fmt: skip
    return RemittanceRecord(row.remittance_id, row.cycle_id, row.npi, totals, row.seq)


class SqlPayments:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock(self) -> None:
        # SQLite's writers are one at a time already (BEGIN IMMEDIATE, adapters/db.py).
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CLOSES_LOCK})

    def latest_cycle(self) -> CycleRecord | None:
        row = self._conn.execute(_LATEST_CYCLE).first()
        return _cycle(row) if row is not None else None

    def take_events(self, cycle_id: str, through: datetime) -> list[PharmacyTotal]:
        self._conn.execute(_TAKE, {"through": through, "cycle": cycle_id})
        rows = self._conn.execute(_TAKEN, {"cycle": cycle_id})
        return [PharmacyTotal(r.pharmacy_npi, int(r.events), int(r.total)) for r in rows]

    def owed_by(self, npi: str) -> int:
        return int(self._conn.execute(_LATEST_OWED, {"npi": npi}).scalar() or 0)

    def add_cycle(self, cycle: CycleRecord) -> None:
        self._conn.execute(
            insert(payment_cycles).values(
                cycle_id=cycle.cycle_id, through=cycle.through, closed_at=cycle.closed_at,
                closed_by=cycle.closed_by, events=cycle.events, pharmacies=cycle.pharmacies,
                total=cycle.total, sent=cycle.sent,
            )
        )  # fmt: skip

    def add_remittance(self, remittance: RemittanceRecord) -> None:
        totals = remittance.totals
        self._conn.execute(
            insert(remittances).values(
                remittance_id=remittance.remittance_id, cycle_id=remittance.cycle_id,
                npi=remittance.npi, total=totals.total, balance_forward=totals.balance_forward,
                payment=totals.payment, owed=totals.owed,
            )
        )  # fmt: skip

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        query = select(payment_cycles).where(payment_cycles.c.cycle_id == cycle_id)
        row = self._conn.execute(query).first()
        return _cycle(row) if row is not None else None

    def cycles(self, limit: int, after_seq: int | None) -> list[CycleRecord]:
        query = select(payment_cycles).order_by(payment_cycles.c.seq.desc()).limit(limit)
        if after_seq is not None:
            query = query.where(payment_cycles.c.seq < after_seq)
        return [_cycle(r) for r in self._conn.execute(query)]

    def remittance(self, remittance_id: str) -> RemittanceRecord | None:
        query = select(remittances).where(remittances.c.remittance_id == remittance_id)
        row = self._conn.execute(query).first()
        return _remittance(row) if row is not None else None

    def remittances(
        self, cycle_id: str | None, npi: str | None, limit: int, after_seq: int | None
    ) -> list[RemittanceRecord]:
        conditions = []
        if cycle_id is not None:
            conditions.append(remittances.c.cycle_id == cycle_id)
        if npi is not None:
            conditions.append(remittances.c.npi == npi)
        if after_seq is not None:
            conditions.append(remittances.c.seq < after_seq)
        query = select(remittances).where(and_(True, *conditions))
        query = query.order_by(remittances.c.seq.desc()).limit(limit)
        return [_remittance(r) for r in self._conn.execute(query)]

    def lines(self, cycle_id: str, npi: str) -> list[RemittanceLine]:
        return [remitted.line for remitted in self.remitted_claims(cycle_id, npi)]

    def pharmacy_ledgers(self) -> list[PharmacyLedger]:
        sums = self._conn.execute(
            select(
                remittances.c.npi,
                func.sum(remittances.c.payment).label("paid"),
                func.sum(remittances.c.total).label("remitted"),
                func.max(remittances.c.seq).label("last"),
            ).group_by(remittances.c.npi)
        ).all()
        events = dict(
            self._conn.execute(
                select(money_events.c.pharmacy_npi, func.sum(money_events.c.amount))
                .where(money_events.c.cycle_id.is_not(None))
                .group_by(money_events.c.pharmacy_npi)
            ).all()
        )
        owed = dict(
            self._conn.execute(
                select(remittances.c.seq, remittances.c.owed).where(
                    remittances.c.seq.in_([r.last for r in sums])
                )
            ).all()
        )
        return [
            PharmacyLedger(r.npi, int(r.paid), int(owed[r.last]), int(r.remitted),
                           int(events.get(r.npi, 0)))
            for r in sums
        ]  # fmt: skip

    def remitted_claims(self, cycle_id: str, npi: str) -> list[RemittedClaim]:
        rows = self._conn.execute(_REMITTED, {"cycle": cycle_id, "npi": npi})
        return [
            RemittedClaim(
                RemittanceLine(
                    r.claim_id,
                    r.rx_number,
                    r.fill_number,
                    r.date_of_service,
                    MoneyKind(r.kind),
                    int(r.amount),
                ),
                int(r.prior),
                r.decision,
                r.facts,
            )  # fmt: skip
            for r in rows
        ]

    def invoice_lines(self, cycle_id: str) -> Iterator[tuple[ExportedClaim, str, int]]:
        for r in self._conn.execute(_INVOICE_LINES, {"cycle": cycle_id}):
            claim = ExportedClaim(
                r.cardholder_id, r.date_of_service, ClaimStatus(r.status), r.decision,
                r.chain, r.facts, r.cash_pay,
            )  # fmt: skip
            yield claim, r.kind, int(r.amount)

    def cycles_through(self, start: datetime, end: datetime) -> list[CycleRecord]:
        through = payment_cycles.c.through
        # In UTC: the ledger stores every moment in UTC (SQLite keeps no zone to compare by).
        query = (
            select(payment_cycles)
            .where(through >= start.astimezone(UTC), through < end.astimezone(UTC))
            .order_by(payment_cycles.c.seq)
        )
        return [_cycle(r) for r in self._conn.execute(query)]

    def kind_totals(self, cycle_id: str) -> dict[str, tuple[int, int]]:
        rows = self._conn.execute(
            select(money_events.c.kind, func.count(), func.sum(money_events.c.amount))
            .where(money_events.c.cycle_id == cycle_id)
            .group_by(money_events.c.kind)
        )
        return {kind: (int(count), int(total)) for kind, count, total in rows}
