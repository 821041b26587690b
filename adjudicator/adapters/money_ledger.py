"""The money events' SQL (PAYMENTS.md): written beside the change that makes them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, case, func, insert, literal, select, union_all

from adjudicator.adapters.ledger import now
from adjudicator.adapters.tables import claims, money_events
from adjudicator.domain.payments import MoneyEvent
from adjudicator.services.unit_of_work import MoneyMismatch

_INSERT = insert(money_events)

_TOTALS = (
    select(money_events.c.claim_id, func.sum(money_events.c.amount).label("total"))
    .group_by(money_events.c.claim_id)
    .subquery()
)
_OWED = case((claims.c.status == "paid", claims.c.program_paid), else_=literal(0))
_EVENTS_TOTAL = func.coalesce(_TOTALS.c.total, 0)
_CLAIMS_OFF = (
    select(claims.c.claim_id, _EVENTS_TOTAL.label("events_total"), _OWED.label("owed_now"))
    .select_from(claims.outerjoin(_TOTALS, _TOTALS.c.claim_id == claims.c.claim_id))
    .where(_EVENTS_TOTAL != _OWED)
)
_ORPHANS = (
    select(_TOTALS.c.claim_id, _TOTALS.c.total.label("events_total"), literal(0).label("owed_now"))
    .select_from(_TOTALS.outerjoin(claims, claims.c.claim_id == _TOTALS.c.claim_id))
    .where(claims.c.claim_id.is_(None), _TOTALS.c.total != 0)
)


class SqlMoneyEvents:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, events: Sequence[MoneyEvent]) -> None:
        if not events:
            return
        stamp = now()
        rows = [
            {"at": stamp, "claim_id": e.claim_id, "pharmacy_npi": e.pharmacy_npi,
             "kind": str(e.kind), "amount": e.amount}
            for e in events
        ]  # fmt: skip
        self._conn.execute(_INSERT, rows)

    def totals(self) -> dict[str, int]:
        query = select(money_events.c.kind, func.sum(money_events.c.amount)).group_by(
            money_events.c.kind
        )
        return {kind: int(total) for kind, total in self._conn.execute(query)}

    def mismatches(self, limit: int = 100) -> list[MoneyMismatch]:
        query = union_all(_CLAIMS_OFF, _ORPHANS).limit(limit)
        return [
            MoneyMismatch(r.claim_id, int(r.events_total), int(r.owed_now))
            for r in self._conn.execute(query)
        ]
