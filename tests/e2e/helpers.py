"""Builders for end-to-end payloads and small HTTP helpers (not a conftest: import it).

Every builder returns a fresh dict shaped like API.md; keyword arguments change the
parts a test cares about. Amounts are money strings ("1500.00"), dates ISO strings.
"""

from __future__ import annotations

import copy
import random
import subprocess
import time
import uuid
from decimal import Decimal
from typing import Any

from tests.e2e.conftest import (
    BIN,
    DEMO_PHARMACY_KEY,
    DEMO_PHARMACY_NPI,
    REVIEWER_TOKEN,
    Server,
)
from tests.examples import ENROLLMENT

__all__ = [
    "COMMERCIAL_COB",
    "DEMO_PHARMACY_KEY",
    "DEMO_PHARMACY_NPI",
    "FSA_MESSAGE",
    "NDC",
    "REVIEWER_TOKEN",
    "benefit",
    "claim_payload",
    "claims_of",
    "cli_status",
    "drug_line",
    "enroll",
    "enrollment_payload",
    "money",
    "new_pharmacy",
    "paid_total",
    "random_npi",
    "rx_number",
    "service_line",
    "submit",
    "wait_decided",
]

NDC = "15054104005"
SERVICE_CODE = "96372"
FSA_MESSAGE = "This benefit may not be submitted to an FSA, HSA or HRA for reimbursement."
COMMERCIAL_COB: dict[str, Any] = {
    "other_coverage_code": 8,
    "other_payer_bin": "003858",
    "other_payer_pcn": "A4",
    "other_payer_reject_codes": [],
}
_DEFAULT = object()


# --- payloads ----------------------------------------------------------------------


def enrollment_payload(
    *,
    state: str = "MA",
    coverage_type: str = "commercial",
    covers_product: bool = True,
    effective_date: str = "2026-01-01",
    cardholder_id: str | None = None,
    date_of_birth: str = "2015-04-02",
) -> dict[str, Any]:
    payload = copy.deepcopy(ENROLLMENT)
    del payload["weight_kg"]  # no weight on record: the dose rule stays out of the way
    payload["patient"]["date_of_birth"] = date_of_birth
    payload["patient"]["address"]["state"] = state
    payload["coverage"].update(type=coverage_type, covers_product=covers_product)
    payload["effective_date"] = effective_date
    if cardholder_id is not None:
        payload["cardholder_id"] = cardholder_id
    return payload


def drug_line(amount: str = "1500.00", *, code: str = NDC) -> dict[str, Any]:
    return {
        "kind": "drug",
        "code": code,
        "quantity": "8.000",
        "days_supply": 30,
        "patient_responsibility": amount,
    }


def service_line(amount: str = "40.00") -> dict[str, Any]:
    return {"kind": "service", "code": SERVICE_CODE, "patient_responsibility": amount}


def claim_payload(
    cardholder_id: str,
    *,
    drug: str = "1500.00",
    service: str | None = None,
    cob: Any = _DEFAULT,
    rx: str | None = None,
    fill_number: int = 0,
    date_of_service: str = "2026-03-01",
    npi: str = DEMO_PHARMACY_NPI,
    ndc: str = NDC,
) -> dict[str, Any]:
    """A B1 claim with one drug line (and a service line when `service` is given).

    `cob` defaults to the commercial secondary of API.md (code 8, BIN 003858); pass
    None to leave it out (other coverage code 1).
    """
    lines = [drug_line(drug, code=ndc)]
    if service is not None:
        lines.append(service_line(service))
    payload: dict[str, Any] = {
        "transaction_code": "B1",
        "cardholder_id": cardholder_id,
        "group_id": "IPSENCARES",
        "service_provider_id": npi,
        "prescriber_npi": "1245319599",
        "rx_number": rx or rx_number(),
        "fill_number": fill_number,
        "date_of_service": date_of_service,
        "patient": {"date_of_birth": "2015-04-02"},
        "lines": lines,
        "diagnosis_code": "E34.3",
    }
    cob_value = dict(COMMERCIAL_COB) if cob is _DEFAULT else cob
    if cob_value is not None:
        payload["cob"] = cob_value
    return payload


def rx_number() -> str:
    return f"RX{uuid.uuid4().hex[:12].upper()}"


def random_npi() -> str:
    """A fresh NPI with a valid check digit (Luhn over "80840" + the first nine)."""
    first_nine = f"{random.randint(100_000_000, 999_999_999)}"
    total = 0
    for position, char in enumerate(reversed("80840" + first_nine)):
        # the check digit will sit at position 0, so these digits start at position 1
        digit = int(char) * (1 if position % 2 else 2)
        total += digit - 9 if digit > 9 else digit
    return first_nine + str((10 - total % 10) % 10)


# --- calls -------------------------------------------------------------------------


def enroll(server: Server, **kwargs: Any) -> dict[str, Any]:
    """POST /v1/enrollments as the reviewer; the 201 body."""
    response = server.call(
        "POST", "/v1/enrollments", REVIEWER_TOKEN, json=enrollment_payload(**kwargs)
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]  # JSON is Any


def submit(
    server: Server, payload: dict[str, Any], token: str = DEMO_PHARMACY_KEY
) -> dict[str, Any]:
    """POST /v1/claims and wait for the decision (polling when the answer was 202)."""
    response = server.call("POST", "/v1/claims", token, json=payload)
    assert response.status_code in (200, 202), response.text
    body = response.json()
    if response.status_code == 202:
        return wait_decided(server, response.headers["Location"], token)
    return body  # type: ignore[no-any-return]  # JSON is Any


def wait_decided(
    server: Server, location: str, token: str = DEMO_PHARMACY_KEY, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = server.call("GET", location, token)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] != "received":
            return body  # type: ignore[no-any-return]  # JSON is Any
        assert time.monotonic() < deadline, f"{location} still received after {timeout}s"
        time.sleep(0.1)


def benefit(server: Server, cardholder_id: str, on: str = "2026-06-01") -> dict[str, Any]:
    response = server.call("GET", f"/v1/members/{cardholder_id}/benefit?date={on}", REVIEWER_TOKEN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]  # JSON is Any


def claims_of(server: Server, cardholder_id: str) -> list[dict[str, Any]]:
    """Every claim of a cardholder, as the reviewer lists them (newest first)."""
    response = server.call(
        "GET", f"/v1/claims?cardholder_id={cardholder_id}&limit=200", REVIEWER_TOKEN
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]  # JSON is Any


def new_pharmacy(server: Server, chain: str = "accredo") -> dict[str, Any]:
    """Provision a pharmacy with a fresh NPI; `{"npi", "name", "chain", "api_key"}`."""
    return server.cli(
        "pharmacies", "add", "--npi", random_npi(), "--name", f"E2E {chain}", "--chain", chain
    )


def cli_status(server: Server, *args: str) -> tuple[int, str]:
    """Run `adjudicator ARGS` with the server's env; (exit code, stdout)."""
    done = subprocess.run(
        [str(BIN / "adjudicator"), *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout


def money(value: str) -> Decimal:
    return Decimal(value)


def paid_total(decisions: list[dict[str, Any]]) -> Decimal:
    return sum(
        (money(d["amounts"]["program_paid"]) for d in decisions if d["status"] == "paid"),
        Decimal("0.00"),
    )
