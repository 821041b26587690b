"""Request payloads as a client sends them (JSON), loaded through the real schemas.

Every builder makes fresh identities (cardholder, pharmacy NPI, Rx number), so tests
that share one ledger and one Redis never see each other's claims or accumulators.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from adjudicator.config import Config
from adjudicator.domain.records import ClaimRecord, EventRecord
from adjudicator.services import adjudication, claim_queries, enrollments, identity, intake
from adjudicator.services.intake import Submission
from adjudicator.services.runtime import Runtime
from adjudicator.web import create_app
from schemas.claims import ClaimRequestSchema
from schemas.enrollments import EnrollmentPatchSchema, EnrollmentRequestSchema
from tests.examples import ENROLLMENT

BIN = Path(sys.executable).parent
STAFF = "user:integration-tests"
INCRELEX_NDC = "15054-1040-05"


def enrollment_payload(**overrides: Any) -> dict[str, Any]:
    """POST /v1/enrollments as JSON: an active, commercially insured patient in New York."""
    payload = copy.deepcopy(ENROLLMENT)
    payload["patient"]["address"].update(city="Albany", state="NY", zip="12207")
    payload["effective_date"] = "2024-01-01"
    payload.update(copy.deepcopy(overrides))
    return payload


def load_enrollment(payload: dict[str, Any]) -> dict[str, Any]:
    return EnrollmentRequestSchema().load(payload)  # type: ignore[no-any-return]  # marshmallow's load() is Any


def load_patch(payload: dict[str, Any]) -> dict[str, Any]:
    return EnrollmentPatchSchema().load(payload)  # type: ignore[no-any-return]  # marshmallow's load() is Any


def enroll(rt: Runtime, **overrides: Any) -> dict[str, Any]:
    """A new member (or, with cardholder_id, the member's next year), as the service answers."""
    return enrollments.enroll(rt, load_enrollment(enrollment_payload(**overrides)), STAFF)


def valid_npi() -> str:
    """A random 10-digit NPI with a correct Luhn check digit (over "80840" + nine digits)."""
    body = f"{random.randrange(1, 10)}{random.randrange(10**8):08d}"
    total = 0
    for position, char in enumerate(reversed("80840" + body)):
        digit = int(char) * (1 if position % 2 else 2)  # the check digit will take position 0
        total += digit - 9 if digit > 9 else digit
    return body + str((10 - total % 10) % 10)


def pharmacy(rt: Runtime, chain: str = "accredo") -> str:
    """A new in-network pharmacy; its NPI."""
    npi = valid_npi()
    identity.add_pharmacy(rt.ledger, npi, f"Pharmacy {npi}", chain)
    return npi


def pharmacy_bearer(rt: Runtime, chain: str = "accredo") -> tuple[dict[str, str], str]:
    """A new pharmacy's bearer header (its API key) and its NPI."""
    npi = valid_npi()
    key = identity.add_pharmacy(rt.ledger, npi, f"Pharmacy {npi}", chain)["api_key"]
    return {"Authorization": f"Bearer {key}"}, npi


@contextmanager
def web_app(rt: Runtime, tmp_path: Path, **config: Any) -> Iterator[Flask]:
    """The web app on `rt`'s ledger and Redis (`config`: more Config fields); the root
    logger, which create_app() configures, is given back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    url = rt.config.database_url
    try:
        yield create_app(Config(tmp_path, url, redis_url="x", **config), runtime=rt)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def rx_number() -> str:
    return f"RX{uuid.uuid4().hex[:12].upper()}"


def claim_payload(
    cardholder_id: str, npi: str, *, responsibility: str = "1500.00", **overrides: Any
) -> dict[str, Any]:
    """POST /v1/claims as JSON: one INCRELEX line, secondary to commercial insurance."""
    payload: dict[str, Any] = {
        "transaction_code": "B1",
        "cardholder_id": cardholder_id,
        "group_id": "IPSENCARES",
        "service_provider_id": npi,
        "prescriber_npi": "1245319599",
        "rx_number": rx_number(),
        "fill_number": 0,
        "date_of_service": "2024-03-01",
        "patient": {"date_of_birth": "2015-04-02"},
        "cob": {
            "other_coverage_code": 8,
            "other_payer_bin": "003858",
            "other_payer_pcn": "A4",
            "other_payer_reject_codes": [],
        },
        "lines": [
            {
                "kind": "drug",
                "code": INCRELEX_NDC,
                "quantity": "8.000",
                "days_supply": 30,
                "patient_responsibility": responsibility,
            }
        ],
        "diagnosis_code": "E34.3",
    }
    payload.update(copy.deepcopy(overrides))
    return payload


def load_claim(payload: dict[str, Any]) -> dict[str, Any]:
    return ClaimRequestSchema().load(payload)  # type: ignore[no-any-return]  # marshmallow's load() is Any


def submit(rt: Runtime, payload: dict[str, Any]) -> Submission:
    """Store the claim and answer at once, as `Prefer: respond-async` does."""
    return intake.submit_claim(rt, load_claim(payload), wait=None)


def pay(rt: Runtime, payload: dict[str, Any]) -> ClaimRecord:
    """Submit and adjudicate in-process; the decided claim."""
    submitted = submit(rt, payload)
    adjudication.adjudicate(rt, submitted.claim_id)
    return claim_row(rt, submitted.claim_id)


def claim_row(rt: Runtime, claim_id: str) -> ClaimRecord:
    claim = claim_queries.read_claim(rt, claim_id)
    assert claim is not None, claim_id
    return claim


def decided_claim(rt: Runtime, claim_id: str, timeout: float) -> ClaimRecord | None:
    """The claim once decided; None if it is still `received` when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while (claim := claim_row(rt, claim_id)).status == "received":
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
    return claim


def events(rt: Runtime, entity_type: str, entity_id: str) -> list[EventRecord]:
    with rt.ledger.reading() as uow:
        return uow.events.of(entity_type, entity_id)


def run_cli(rt: Runtime, redis_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the `adjudicator` command on this runtime's ledger and the given Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": rt.config.database_url,
        "REDIS_URL": redis_url,
        "ADJUDICATOR_DATA_DIR": str(tmp_path / "cli"),
    }
    return subprocess.run(
        [str(BIN / "adjudicator"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def one_json_object(stdout: str) -> dict:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    printed = json.loads(lines[0])
    assert isinstance(printed, dict)
    return printed


class OwnAddressClient(FlaskClient):
    """A test client with a client address of its own. The console's sign-in limit counts
    attempts per address in Redis for 15 minutes; sharing one address, a whole test run
    (and a second run soon after, on the same Redis) would reach that limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        octets = (random.randrange(256), random.randrange(256), random.randrange(1, 255))
        self.environ_base["REMOTE_ADDR"] = "10.{}.{}.{}".format(*octets)
