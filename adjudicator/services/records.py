"""Translate between ledger JSON records and domain objects (cents stay ints)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

from adjudicator.domain.model import Benefit, Decision
from adjudicator.domain.outcomes import CHANNELS, ClaimStatus
from adjudicator.domain.records import ClaimRecord


def normalized_claim_request(data: dict[str, Any]) -> dict[str, Any]:
    """The claim as stored and compared: JSON-safe, absent cob read as code 1."""
    cob = data.get("cob") or {}
    patient = data.get("patient") or {}
    return {
        "transaction_code": data.get("transaction_code", "B1"),
        "cardholder_id": data["cardholder_id"],
        "group_id": data.get("group_id"),
        "service_provider_id": data["service_provider_id"],
        "prescriber_npi": data.get("prescriber_npi"),
        "rx_number": data["rx_number"],
        "fill_number": data["fill_number"],
        "date_of_service": data["date_of_service"].isoformat(),
        "date_of_birth": _iso(patient.get("date_of_birth")),
        "cob": {
            "other_coverage_code": cob.get("other_coverage_code", 1),
            "other_payer_bin": cob.get("other_payer_bin"),
            "other_payer_pcn": cob.get("other_payer_pcn"),
            "other_payer_reject_codes": list(cob.get("other_payer_reject_codes") or []),
        },
        "lines": [_line(line) for line in data["lines"]],
        "diagnosis_code": data.get("diagnosis_code"),
    }


def _line(line: dict[str, Any]) -> dict[str, Any]:
    quantity = line.get("quantity")
    return {
        "kind": line["kind"],
        "code": line["code"],
        "quantity": None if quantity is None else _decimal_text(quantity),
        "days_supply": line.get("days_supply"),
        "patient_responsibility": line["patient_responsibility"],
    }


def _decimal_text(value: Decimal) -> str:
    """ "8.000" and "8" are the same quantity: compare them in one spelling."""
    return format(value.normalize(), "f")


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def request_hash(normalized: dict[str, Any]) -> str:
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def received_claim(
    claim_id: str,
    data: dict[str, Any],
    request: dict[str, Any],
    digest: str | None = None,
    *,
    channel: str = "json",
    rebill_of: str | None = None,
) -> ClaimRecord:
    """A new claim as the intake stores it, `received`: `data` as the schema loads it,
    `request` normalized from it, `digest` its request_hash() if already computed,
    `channel` the door it came through ("json" or "ncpdp"), `rebill_of` the paid claim a
    B3 rebill replaces."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return ClaimRecord(
        claim_id=claim_id,
        pharmacy_npi=request["service_provider_id"],
        cardholder_id=request["cardholder_id"],
        rx_number=request["rx_number"],
        fill_number=request["fill_number"],
        date_of_service=data["date_of_service"],
        request=request,
        request_hash=digest or request_hash(request),
        status=ClaimStatus.RECEIVED,
        program_paid=0,
        channel=channel,
        rebill_of=rebill_of,
    )


def date_of_service(request: dict[str, Any]) -> date:
    return date.fromisoformat(request["date_of_service"])


# --- enrollments -------------------------------------------------------------------


def facts_record(data: dict[str, Any]) -> dict[str, Any]:
    """Enrollment facts as stored: JSON-safe copies of patient, coverage, attestations."""
    patient = dict(data["patient"])
    patient["date_of_birth"] = patient["date_of_birth"].isoformat()
    patient["address"] = dict(patient["address"])
    weight = data.get("weight_kg")
    return {
        "patient": patient,
        "coverage": {"covers_product": True, **data["coverage"]},
        "attestations": {
            "government_program": False,
            "other_assistance": False,
            **data.get("attestations", {}),
        },
        "weight_kg": None if weight is None else _decimal_text(weight),
        "effective_date": data["effective_date"].isoformat(),
    }


# --- decisions -----------------------------------------------------------------------


def decision_record(decision: Decision) -> dict[str, Any]:
    """A decision as stored in the ledger: the API shape with cents and ISO dates."""
    amounts = decision.amounts
    return {
        "status": decision.status,
        "reject_codes": [
            {"code": r.code, "message": r.message, "rule": r.rule} for r in decision.reject_codes
        ],
        "amounts": {
            "patient_responsibility": amounts.patient_responsibility,
            "eligible": amounts.eligible,
            "program_paid": amounts.program_paid,
            "patient_pay": amounts.patient_pay,
        },
        "benefit": benefit_record(decision.benefit),
        "cash_pay": decision.cash_pay,
        "reasons": [
            {"rule": t.rule, "outcome": t.outcome, "message": t.message} for t in decision.trace
        ],
        "messages": list(decision.messages),
        "terms_version": decision.terms_version,
        "reviewable_rules": list(decision.reviewable_rules),
    }


def benefit_record(benefit: Benefit | None) -> dict[str, Any] | None:
    if benefit is None:
        return None
    return {
        "period_start": benefit.period_start.isoformat(),
        "period_end": benefit.period_end.isoformat(),
        "annual_max": benefit.annual_max,
        "used_before": benefit.used_before,
        "used_after": benefit.used_after,
        "remaining": benefit.remaining,
    }
