"""The de-identified claims export for the manufacturer (PROGRAM_TERMS.md, Safe Harbor)."""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterator
from typing import Any, TextIO

from adjudicator.domain import deidentify
from adjudicator.domain.money import format_money
from adjudicator.domain.records import facts_from_record
from adjudicator.services.unit_of_work import ExportedClaim, Ledger


def deidentified_claims(ledger: Ledger, year: int) -> Iterator[dict[str, str]]:
    """Every decided claim served in `year`, de-identified, in the order they came."""
    # A fresh random key per patient and export: nothing in it comes from the patient,
    # and two exports cannot be joined on it.
    keys: dict[str, str] = {}
    with ledger.reading() as uow:
        for claim in uow.claims.for_export(year):
            key = keys.setdefault(claim.cardholder_id, secrets.token_hex(8))
            yield deidentify.row(key, _claim(claim), _patient(claim))


def write_csv(ledger: Ledger, year: int, out: TextIO) -> dict[str, Any]:
    """The export as CSV with a header line; how many claims and patients it holds."""
    writer = csv.DictWriter(out, fieldnames=deidentify.COLUMNS, lineterminator="\n")
    writer.writeheader()
    patients: set[str] = set()
    count = 0
    for exported in deidentified_claims(ledger, year):
        writer.writerow({column: _cell(value) for column, value in exported.items()})
        patients.add(exported["patient_key"])
        count += 1
    return {"year": year, "claims": count, "patients": len(patients)}


def _cell(value: str) -> str:
    """A value a spreadsheet will not run as a formula (a chain is free text)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _claim(row: ExportedClaim) -> deidentify.Claim:
    decision = row.decision or {}
    return deidentify.Claim(
        date_of_service=row.date_of_service,
        pharmacy_chain=row.chain,
        status=row.status,
        reject_codes=tuple(r["code"] for r in decision.get("reject_codes", [])),
        amounts=decision.get("amounts", {}),
        terms_version=decision.get("terms_version"),
    )


def _patient(row: ExportedClaim) -> deidentify.Patient | None:
    if row.facts is None:
        return None  # no enrollment year: a claim rejected 52, 67 or 68
    facts = facts_from_record(row.facts)
    patient = facts.patient
    return deidentify.Patient(
        date_of_birth=patient.date_of_birth,
        sex=patient.sex,
        state=patient.address.state,
        zip_code=patient.address.zip,
        country=patient.address.country,
        coverage_type=facts.coverage.type,
        cash_pay=bool(row.cash_pay),
    )


INVOICE_COLUMNS = (*deidentify.COLUMNS, "line_kind", "line_amount")


def write_invoice_csv(ledger: Ledger, cycle_id: str, out: TextIO) -> int:
    """A cycle's invoice lines, one de-identified row each (the export's rows, with the
    line's kind and signed amount); how many rows."""
    writer = csv.DictWriter(out, fieldnames=INVOICE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    keys: dict[str, str] = {}
    count = 0
    with ledger.reading() as uow:
        for claim, kind, cents in uow.payments.invoice_lines(cycle_id):
            key = keys.setdefault(claim.cardholder_id, secrets.token_hex(8))
            exported = deidentify.row(key, _claim(claim), _patient(claim))
            row = {column: _cell(value) for column, value in exported.items()}
            writer.writerow({**row, "line_kind": kind, "line_amount": format_money(cents)})
            count += 1
    return count
