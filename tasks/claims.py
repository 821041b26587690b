"""Thin Celery tasks: each one calls a service with the claim id as idempotency key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from celery import current_app, shared_task
from sqlalchemy.exc import OperationalError

from adjudicator.adapters import metrics
from adjudicator.domain.records import ClaimRecord, as_utc
from adjudicator.services import adjudication, claim_queries
from adjudicator.services.runtime import Runtime
from adjudicator.wiring import build_runtime
from schemas.claims import decision_json
from tasks.celery_app import ADJUDICATE_CLAIM

log = logging.getLogger(__name__)
Render = Callable[[dict[str, Any]], str]  # a claim's view -> the API's answer body
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """Built on first use inside each worker process (never before fork)."""
    global _runtime
    if _runtime is None:
        _runtime = build_runtime(current_app.conf.adjudicator_config, celery=current_app)
    return _runtime


@shared_task(
    name=ADJUDICATE_CLAIM,
    autoretry_for=(OperationalError, redis.ConnectionError, redis.TimeoutError),
    retry_backoff=0.2,
    retry_backoff_max=5,
    max_retries=20,
)
def adjudicate_claim(claim_id: str) -> None:
    decide_and_announce(runtime(), claim_id)


def decide_and_announce(rt: Runtime, claim_id: str, render: Render = decision_json) -> None:
    """Decide the claim, and tell the request waiting for it: with the decision as the
    API answers the pharmacy, so the request reads nothing back."""
    decided = adjudication.adjudicate(rt, claim_id)
    answer = _rendered(rt, decided, render) if decided is not None else None
    rt.decisions.announce(claim_id, answer)
    if decided is not None:
        _count(decided)


def _count(decided: ClaimRecord) -> None:
    """The decision in /metrics: door, status, reject codes, time since received."""
    codes = [r["code"] for r in (decided.decision or {}).get("reject_codes", [])]
    took = None
    if decided.decided_at is not None and decided.created_at is not None:
        took = (as_utc(decided.decided_at) - as_utc(decided.created_at)).total_seconds()
    try:
        metrics.record_decision(decided.channel, decided.status, codes, took)
    except Exception:  # a metric never costs a decision
        log.exception("recording a decision's metrics failed")


def _rendered(rt: Runtime, decided: ClaimRecord, render: Render) -> str | None:
    """The decision as the API answers it; None (the request reads it from the ledger) if
    that fails: the decision is committed, and the waiting request must hear of it."""
    try:
        # The waiting request is the pharmacy's that sent the claim: its view.
        return render(claim_queries.present(rt, decided, npi=decided.pharmacy_npi))
    except Exception:
        log.exception("rendering a decision failed", extra={"claim_id": decided.claim_id})
        return None


@shared_task(name="adjudicator.sweep_received")
def sweep_received() -> int:
    """Re-enqueue claims still `received` after a while (a worker died, a message was lost)."""
    return adjudication.sweep(runtime())
