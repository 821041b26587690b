"""The skeleton: the baseline plus the architecture's Celery round trip, and nothing else.

Flask loads the claim with ClaimRequestSchema (as the baseline does), publishes one task
onto the `claims` queue the way the intake does (tasks.publish.TaskPublisher), and waits
for the worker's push with BLPOP, as the intake waits for a decision. No auth, no ledger,
no rules, no accumulator. Under the same gunicorn and Celery command lines as `adjudicator
run`, it measures the floor the fixed shape (Flask, Celery prefork, Redis) sets on this
machine: the end-to-end service can come near it but not pass it.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis
from flask import Flask

from adjudicator.adapters.decision_channel import TaskPublisher
from bench import baseline_app
from bench.skeleton_worker import WAKE, done_key
from bench.skeleton_worker import app as celery
from tasks.celery_app import CLAIMS_QUEUE

app = Flask(__name__)
client = redis.Redis.from_url(celery.conf.adjudicator_config.redis_url)
publisher = TaskPublisher(celery, client)
WAIT_SECONDS = 10


@app.post("/v1/claims")
def submit_claim() -> Any:
    loaded = baseline_app.load_claim()  # the baseline's very work, and its 400 / 422
    if isinstance(loaded, tuple):
        return loaded
    request_id = uuid.uuid4().hex
    publisher.publish(WAKE, [request_id], CLAIMS_QUEUE)
    woken = client.blpop([done_key(request_id)], timeout=WAIT_SECONDS)
    return {"status": "accepted" if woken else "timeout", "rx_number": loaded["rx_number"]}


app.get("/readyz")(baseline_app.readyz)
