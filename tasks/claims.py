"""Thin Celery tasks: each one calls a service with the claim id as idempotency key."""

from __future__ import annotations

import redis
from celery import current_app, shared_task
from sqlalchemy.exc import OperationalError

from adjudicator.services import adjudication
from adjudicator.services.runtime import Runtime
from schemas.claims import decision_json
from tasks.celery_app import ADJUDICATE_CLAIM
from tasks.publish import runtime_publishing_claims

_runtime: Runtime | None = None


def runtime() -> Runtime:
    """Built on first use inside each worker process (never before fork)."""
    global _runtime
    if _runtime is None:
        _runtime = runtime_publishing_claims(current_app.conf.adjudicator_config, current_app)
    return _runtime


@shared_task(
    name=ADJUDICATE_CLAIM,
    autoretry_for=(OperationalError, redis.ConnectionError, redis.TimeoutError),
    retry_backoff=0.2,
    retry_backoff_max=5,
    max_retries=20,
)
def adjudicate_claim(claim_id: str) -> None:
    # The decision goes to the waiting request already rendered as the API answers it.
    adjudication.adjudicate(runtime(), claim_id, render=decision_json)


@shared_task(name="adjudicator.sweep_received")
def sweep_received() -> int:
    """Re-enqueue claims still `received` after a while (a worker died, a message was lost)."""
    return adjudication.sweep(runtime())
