"""Payment cycles and remittances (PAYMENTS.md): close the money events through a moment,
one remittance per pharmacy, what a pharmacy owes back carried to its next one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from adjudicator.domain.money import format_money
from adjudicator.domain.payments import (
    CycleRecord,
    MoneyKind,
    RemittanceRecord,
    remittance_totals,
)
from adjudicator.domain.records import PharmacyRecord, as_utc
from adjudicator.services import cursors, terms
from adjudicator.services.errors import Conflict, Invalid, NotFound
from adjudicator.services.runtime import Runtime


def close(rt: Runtime, through: datetime | None, actor: str) -> dict[str, Any]:
    """Close a cycle through `through` (now when None): every money event recorded at or
    before it and in no cycle joins it. Closes run one at a time (the lock), so no event
    is ever in two cycles; a `through` not after the last cycle's is a Conflict."""
    now = rt.ledger.now()
    # In UTC: the ledger stores every moment in UTC (SQLite keeps no zone to compare by).
    through = (through or now).astimezone(UTC)
    if through > now:
        raise Invalid({"through": ["Must not be in the future."]})
    cycle_id = uuid.uuid4().hex
    with rt.ledger.writing() as uow:
        uow.payments.lock()
        last = uow.payments.latest_cycle()
        if last is not None and through <= last.through:
            raise Conflict(f"a cycle is closed through {_utc(last.through)} already")
        taken = uow.payments.take_events(cycle_id, through)
        sent = 0
        for pharmacy in taken:
            totals = remittance_totals(pharmacy.total, uow.payments.owed_by(pharmacy.npi))
            uow.payments.add_remittance(
                RemittanceRecord(uuid.uuid4().hex, cycle_id, pharmacy.npi, totals)
            )
            sent += totals.payment
        cycle = CycleRecord(
            cycle_id, through, now, actor,
            events=sum(p.events for p in taken), pharmacies=len(taken),
            total=sum(p.total for p in taken), sent=sent,
        )  # fmt: skip
        uow.payments.add_cycle(cycle)
    return cycle_view(cycle)


def get_cycle(rt: Runtime, cycle_id: str) -> dict[str, Any]:
    with rt.ledger.reading() as uow:
        cycle = uow.payments.cycle(cycle_id)
    if cycle is None:
        raise NotFound("payment cycle not found")
    return cycle_view(cycle)


def list_cycles(rt: Runtime, limit: int, cursor: str | None) -> dict[str, Any]:
    after = cursors.decode(cursor)
    with rt.ledger.reading() as uow:
        found = uow.payments.cycles(limit + 1, after)
    items = [cycle_view(c) for c in found[:limit]]
    more = len(found) > limit
    return {
        "items": items,
        "next_cursor": cursors.encode(found[limit - 1].seq or 0) if more else None,
    }


def get_remittance(rt: Runtime, remittance_id: str, *, npi: str | None) -> dict[str, Any]:
    """A remittance with its lines; a pharmacy (`npi`) sees its own only (else 404)."""
    with rt.ledger.reading() as uow:
        remittance = uow.payments.remittance(remittance_id)
        if remittance is None or (npi is not None and remittance.npi != npi):
            raise NotFound("remittance not found")
        pharmacy = uow.credentials.pharmacy(remittance.npi)
        lines = uow.payments.lines(remittance.cycle_id, remittance.npi)
    view = remittance_view(remittance, _name(pharmacy))
    view["lines"] = [
        {
            "claim_id": line.claim_id,
            "rx_number": line.rx_number,
            "fill_number": line.fill_number,
            "date_of_service": line.date_of_service.isoformat(),
            "kind": str(line.kind),
            "amount": format_money(line.amount),
        }
        for line in lines
    ]
    return view


def list_remittances(
    rt: Runtime, *, cycle_id: str | None, npi: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    after = cursors.decode(cursor)
    with rt.ledger.reading() as uow:
        found = uow.payments.remittances(cycle_id, npi, limit + 1, after)
        names = {r.npi: _name(uow.credentials.pharmacy(r.npi)) for r in found[:limit]}
    items = [remittance_view(r, names[r.npi]) for r in found[:limit]]
    more = len(found) > limit
    return {
        "items": items,
        "next_cursor": cursors.encode(found[limit - 1].seq or 0) if more else None,
    }


def invoice(rt: Runtime, cycle_id: str) -> dict[str, Any]:
    """The manufacturer's invoice for a cycle (PAYMENTS.md): its events by kind, what
    earlier debts its lines paid off, what is still owed, and the money sent."""
    with rt.ledger.reading() as uow:
        cycle = uow.payments.cycle(cycle_id)
        if cycle is None:
            raise NotFound("payment cycle not found")
        kinds = uow.payments.kind_totals(cycle_id)
        remitted = [r.totals for r in uow.payments.remittances(cycle_id, None, 10**9, None)]
        program_id = terms.all_versions(uow)[0].program_id
    return {
        "cycle_id": cycle.cycle_id,
        "through": _utc(cycle.through),
        "program_id": program_id,
        **{
            f"{kind}s": {"count": count, "amount": format_money(amount)}
            for kind in MoneyKind
            for count, amount in [kinds.get(kind, (0, 0))]
        },
        "recovered": format_money(sum(t.recovered for t in remitted)),
        "owed": format_money(sum(t.owed for t in remitted)),
        "total_due": format_money(sum(t.payment for t in remitted)),
    }


def check_pharmacies(rt: Runtime) -> list[dict[str, Any]]:
    """PAYMENTS.md's second invariant: for every pharmacy, what it was paid plus what it
    owes now equals the sum of its remitted lines (and those are its events in cycles)."""
    with rt.ledger.reading() as uow:
        ledgers = uow.payments.pharmacy_ledgers()
    return [
        {
            "npi": p.npi,
            "paid": format_money(p.paid),
            "owed": format_money(p.owed),
            "remitted": format_money(p.remitted),
            "events_remitted": format_money(p.events_remitted),
        }
        for p in ledgers
        if p.paid + p.owed != p.remitted or p.remitted != p.events_remitted
    ]


def cycle_view(cycle: CycleRecord) -> dict[str, Any]:
    return {
        "cycle_id": cycle.cycle_id,
        "through": _utc(cycle.through),
        "closed_at": _utc(cycle.closed_at),
        "pharmacies": cycle.pharmacies,
        "events": cycle.events,
        "total": format_money(cycle.total),
        "sent": format_money(cycle.sent),
    }


def remittance_view(remittance: RemittanceRecord, pharmacy: str | None) -> dict[str, Any]:
    totals = remittance.totals
    return {
        "remittance_id": remittance.remittance_id,
        "cycle_id": remittance.cycle_id,
        "npi": remittance.npi,
        "pharmacy": pharmacy,
        "total": format_money(totals.total),
        "balance_forward": format_money(totals.balance_forward),
        "payment": format_money(totals.payment),
        "owed": format_money(totals.owed),
    }


def _next(found: list[CycleRecord] | list[RemittanceRecord], limit: int) -> str | None:
    """The cursor after a page of `limit` when `found` (limit + 1 read) holds more."""
    return cursors.encode(found[limit - 1].seq or 0) if len(found) > limit else None


def _name(pharmacy: PharmacyRecord | None) -> str | None:
    return pharmacy.name if pharmacy is not None else None


def _utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, as PAYMENTS.md answers every moment."""
    moment = as_utc(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond:06d}Z" if moment.microsecond else "Z"
    )
