"""The skeleton with the ledger: bench/skeleton_app.py plus the SQL and Redis work the
architecture asks of every claim, and still no auth, rules or rendering.

The intake stores the claim `received` with its event in one transaction (the service's
own ledger functions and normalized request), publishes `bench.skeleton_decide`, and
waits; the task reads the claim, reserves with the accumulator's Lua script and records
the outcome with its event (bench/skeleton_worker.py). What the service spends beyond
this is its own: auth, the duplicate check, the rules and what they read, the answer.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from adjudicator.adapters.sql_ledger import SqlLedger
from adjudicator.services import records
from adjudicator.services.history import claim_event
from bench import baseline_app
from bench.skeleton_app import WAIT_SECONDS, client, publisher
from bench.skeleton_worker import DECIDE, done_key
from bench.skeleton_worker import app as celery
from tasks.celery_app import CLAIMS_QUEUE

app = Flask(__name__)
_ledger = SqlLedger.from_url(celery.conf.adjudicator_config.database_url)


@app.post("/v1/claims")
def submit_claim() -> Any:
    data = baseline_app.load_claim()  # the baseline's very work, and its 400 / 422
    if isinstance(data, tuple):
        return data
    claim = records.normalized_claim_request(data)
    claim_id = uuid.uuid4().hex
    received = records.received_claim(claim_id, data, claim)
    with _ledger.writing() as uow:
        uow.claims.add(received)
        claim_event(uow, received, "received", "pharmacy:skeleton")
    publisher.publish(DECIDE, [claim_id], CLAIMS_QUEUE)
    woken = client.blpop([done_key(claim_id)], timeout=WAIT_SECONDS)
    return {"status": "accepted" if woken else "timeout", "rx_number": claim["rx_number"]}


app.get("/readyz")(baseline_app.readyz)
