"""A claim whose worker died (stored `received`, never enqueued) is still decided, once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from adjudicator.adapters.db import make_engine
from adjudicator.adapters.tables import claims
from adjudicator.services import records
from schemas.claims import ClaimRequestSchema
from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    DEMO_PHARMACY_KEY,
    benefit,
    claim_payload,
    claims_of,
    enroll,
    submit,
)

pytestmark = pytest.mark.e2e

SWEPT_WITHIN_SECONDS = 60


@pytest.fixture
def ledger(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_received_claim_that_was_never_enqueued_is_decided_by_the_sweep_and_paid_once(
    server: Server, ledger: Engine
) -> None:
    member = enroll(server, state="NY")
    cardholder = member["cardholder_id"]
    payload = claim_payload(cardholder, drug="1300.00")
    request = records.normalized_claim_request(ClaimRequestSchema().load(payload))
    claim_id = uuid.uuid4().hex
    with ledger.begin() as conn:
        # What a web process leaves behind when it dies between storing and enqueueing:
        # the claim in `received`, no message on the queue. Backdated past the sweep's
        # ADJUDICATOR_SWEEP_AFTER (5 s), so the next sweep (every 15 s) picks it up.
        conn.execute(
            insert(claims).values(
                claim_id=claim_id,
                pharmacy_npi=request["service_provider_id"],
                cardholder_id=cardholder,
                rx_number=request["rx_number"],
                fill_number=request["fill_number"],
                date_of_service=date.fromisoformat(payload["date_of_service"]),
                request=request,
                request_hash=records.request_hash(request),
                status="received",
                program_paid=0,
                created_at=datetime.now(UTC) - timedelta(seconds=10),
            )
        )

    deadline = time.monotonic() + SWEPT_WITHIN_SECONDS
    while True:
        shown = server.call("GET", f"/v1/claims/{claim_id}", DEMO_PHARMACY_KEY).json()
        if shown["status"] != "received":
            break
        assert time.monotonic() < deadline, "the sweep did not decide the claim in time"
        time.sleep(0.25)

    assert shown["status"] == "paid"
    assert shown["amounts"]["program_paid"] == "1300.00"
    assert [e["type"] for e in shown["events"]].count("decided") == 1
    assert benefit(server, cardholder)["used"] == "1300.00"

    again = submit(server, payload)
    assert again["status"] == "duplicate"
    assert again["claim_id"] == claim_id
    assert benefit(server, cardholder)["used"] == "1300.00"
    assert [c["claim_id"] for c in claims_of(server, cardholder)] == [claim_id]
