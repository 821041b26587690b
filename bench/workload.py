"""What the bench enrolls and bills: plausible INCRELEX patients and their fills.

Each patient gets an enrollment year that contains today. Claims are spread round
robin over the patients of a phase, and their amounts are drawn so that a patient's
fills add up to a little more than the $12,000 annual maximum by the end of the
phase: most claims are paid in full, the last fills of many patients are paid in
part or rejected with 76 (Plan Limitations Exceeded). Cash-pay patients (uninsured)
are also held to $1,000 per prescription. A few claims say the primary payer
rejected them for prior authorization (other coverage code 3, reject 75), which the
program rejects with 41.

Every claim is one a D.0 B1 can carry too (adjudicator/ncpdp/encode.py), so the JSON and
the D.0 doors bill the same claims: digits-only Rx numbers (given by the caller), one
drug line and no service line, no diagnosis code and no other-payer PCN (D.0 has no field
for them). A claim encoded with `encode_claim` becomes, through the D.0 door, exactly the
JSON request.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

PHARMACY_NPI = "1234567893"  # the demo pharmacy `adjudicator run` provisions
PRESCRIBER_NPI = "1245319599"
NDC = "15054-1040-05"
ANNUAL_MAX_CENTS = 1_200_000
OVERSHOOT = 1.08  # a patient's fills add up to 108% of the annual maximum on average
DRUG_ONLY_STATES = ("MA", "MN", "MI", "RI")
OTHER_STATES = ("NY", "CA", "TX", "FL", "IL", "PA", "OH", "GA", "NC", "WA", "AZ", "CO")


@dataclass(frozen=True)
class Patient:
    cardholder_id: str
    date_of_birth: str
    cash_pay: bool
    effective_date: date


def enrollment_request(rng: random.Random, effective: date, today: date) -> dict[str, Any]:
    cash_pay = rng.random() < 0.15
    state = rng.choice(DRUG_ONLY_STATES) if rng.random() < 0.10 else rng.choice(OTHER_STATES)
    born = today - timedelta(days=rng.randint(3 * 366, 15 * 365))
    coverage: dict[str, Any] = (
        {"type": "uninsured"}
        if cash_pay
        else {"type": "commercial", "payer_name": "Acme Health", "bin": "003858", "pcn": "A4"}
    )
    return {
        "patient": {
            "first_name": "Bench",
            "last_name": f"Patient{rng.randint(0, 10**6)}",
            "date_of_birth": born.isoformat(),
            "sex": rng.choice(["F", "M"]),
            "address": {
                "line1": f"{rng.randint(1, 999)} Main St",
                "city": "Springfield",
                "state": state,
                "zip": f"{rng.randint(10000, 99999)}",
                "country": "US",
            },
        },
        "coverage": coverage,
        "attestations": {"government_program": False, "other_assistance": False},
        "weight_kg": f"{rng.uniform(15, 60):.1f}",
        "effective_date": effective.isoformat(),
    }


def enroll(
    port: int, token: str, count: int, rng: random.Random, today: date, threads: int = 8
) -> list[Patient]:
    """POST /v1/enrollments `count` times from a few threads; every one must be active."""
    effective = today - timedelta(days=300)  # a year that started well before today
    bodies = [enrollment_request(rng, effective, today) for _ in range(count)]
    patients: list[Patient | None] = [None] * count
    failures: list[str] = []
    counter = itertools.count()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while (i := next(counter)) < count and not failures:
                body = bodies[i]
                conn.request("POST", "/v1/enrollments", json.dumps(body), headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 201 or json.loads(answer)["status"] != "active":
                    failures.append(f"{response.status} {answer[:300]!r}")
                    return
                patients[i] = Patient(
                    cardholder_id=json.loads(answer)["cardholder_id"],
                    date_of_birth=body["patient"]["date_of_birth"],
                    cash_pay=body["coverage"]["type"] == "uninsured",
                    effective_date=effective,
                )
        finally:
            conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        while thread.is_alive():
            thread.join(0.2)
    if failures:
        raise RuntimeError(f"enrollment failed: {failures[0]}")
    return [p for p in patients if p is not None]


def stand_ins(count: int, rng: random.Random, today: date) -> list[Patient]:
    """Patients as enroll() would return them, for a target that enrolls nobody."""
    effective = today - timedelta(days=300)
    return [
        Patient(
            f"BASE{i:06d}",
            enrollment_request(rng, effective, today)["patient"]["date_of_birth"],
            rng.random() < 0.15,
            effective,
        )
        for i in range(count)
    ]


def claim_request(
    rng: random.Random, patient: Patient, rx_number: str, mean_cents: int, today: date
) -> dict[str, Any]:
    days = (today - patient.effective_date).days
    service_date = patient.effective_date + timedelta(days=rng.randint(0, days))
    lines: list[dict[str, Any]] = [
        {
            "kind": "drug",
            "code": NDC,
            "quantity": "4.000",  # 40 mg a month: well under 0.24 mg/kg/day at 15 kg
            "days_supply": 30,
            "patient_responsibility": _money(round(mean_cents * rng.uniform(0.5, 1.5))),
        }
    ]
    claim: dict[str, Any] = {
        "transaction_code": "B1",
        "cardholder_id": patient.cardholder_id,
        "group_id": "IPSENCARES",
        "service_provider_id": PHARMACY_NPI,
        "prescriber_npi": PRESCRIBER_NPI,
        "rx_number": rx_number,
        "fill_number": 0,
        "date_of_service": service_date.isoformat(),
        "patient": {"date_of_birth": patient.date_of_birth},
        "lines": lines,
    }
    if not patient.cash_pay:  # cash-pay claims send no `cob`: other coverage code 1
        prior_auth = rng.random() < 0.02
        claim["cob"] = {
            "other_coverage_code": 3 if prior_auth else 8,
            "other_payer_bin": "003858",
            "other_payer_reject_codes": ["75"] if prior_auth else [],
        }
    return claim


def claim_bodies(
    patients: Sequence[Patient], count: int, rng: random.Random, rx_prefix: str, today: date
) -> list[bytes]:
    """`count` JSON bodies, claim i for patient i mod len(patients), distinct Rx numbers."""
    per_patient = count / len(patients)
    mean_cents = round(OVERSHOOT * ANNUAL_MAX_CENTS / per_patient)
    bodies = []
    for i in range(count):
        claim = claim_request(
            rng, patients[i % len(patients)], f"{rx_prefix}{i:06d}", mean_cents, today
        )
        bodies.append(json.dumps(claim, separators=(",", ":")).encode())
    return bodies


def outcomes(bodies: Sequence[bytes]) -> dict[str, Any]:
    """Decision statuses, reject codes and program_paid from the end-to-end answers."""
    statuses: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    capped = paid_cents = 0
    for body in bodies:
        try:
            decision = json.loads(body)
        except ValueError:
            statuses["(not JSON)"] += 1
            continue
        status = decision.get("status", "(none)") if isinstance(decision, dict) else "(none)"
        statuses[status] += 1
        if status == "paid":
            paid_cents += _cents(decision["amounts"]["program_paid"])
            rules = {reason["rule"] for reason in decision["reasons"]}
            capped += bool(rules & {"annual_max", "cash_pay_per_rx_max"})
        for code in decision.get("reject_codes") or []:
            rejects[code["code"]] += 1
    return {
        "statuses": dict(statuses.most_common()),
        "paid_limited_by_a_cap": capped,
        "reject_codes": dict(rejects.most_common()),
        "program_paid": _money(paid_cents),
    }


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(money: str) -> int:
    whole, _, part = money.partition(".")
    return int(whole) * 100 + int(part)
