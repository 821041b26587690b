"""The skeletons' Celery side: a task that only wakes the waiting request, and one that
also does the ledger and accumulator work the architecture asks of every claim.

Built by `make_celery` from the service's own config (same broker transport, acks_late,
prefetch, serializer), and run by `bench.claims` under the very worker command line of
`adjudicator run`, so a skeleton pays what the service's Celery round trip pays and
nothing else. See bench/skeleton_app.py.
"""

from __future__ import annotations

from typing import Any

import redis

from adjudicator.adapters.accumulator import Accumulator
from adjudicator.adapters.sql_ledger import SqlLedger
from adjudicator.config import Config
from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.services.history import claim_event
from tasks.celery_app import make_celery

WAKE = "bench.skeleton_wake"
DECIDE = "bench.skeleton_decide"
ANSWER = b'{"status": "accepted"}'
GRANT_CENTS = 1_000  # what every skeleton claim reserves; the cap is never reached
CAP_CENTS = 1_200_000_000

app = make_celery(Config.from_env())
_built: dict[str, Any] = {}  # per worker process, built after the fork


def done_key(request_id: str) -> str:
    return f"skeleton-done:{request_id}"


def _redis() -> redis.Redis:
    if "redis" not in _built:
        _built["redis"] = redis.Redis.from_url(app.conf.adjudicator_config.redis_url)
    return _built["redis"]  # type: ignore[no-any-return]  # a dict of Any


@app.task(name=WAKE)
def wake(request_id: str) -> None:
    """Push the answer the request waits for, as the service's worker announces a decision."""
    key = done_key(request_id)
    with _redis().pipeline(transaction=False) as pipe:
        pipe.rpush(key, ANSWER).expire(key, 30).execute()


@app.task(name=DECIDE)
def decide(claim_id: str) -> None:
    """The worker's ledger and accumulator work without the rules: read the claim as the
    service does, reserve with the Lua script, record the outcome and its event in one
    transaction, then wake the request."""
    if "ledger" not in _built:
        _built["ledger"] = SqlLedger.from_url(app.conf.adjudicator_config.database_url)
        _built["accumulator"] = Accumulator(_redis())
    ledger: SqlLedger = _built["ledger"]
    with ledger.reading() as uow:
        found = uow.claims.to_decide(claim_id)
    assert found is not None
    claim = found.record
    year = f"skeleton-{claim.cardholder_id}"
    reserved = _built["accumulator"].reserve(
        claim.cardholder_id, year, claim_id, GRANT_CENTS, CAP_CENTS
    )
    with ledger.writing() as uow:
        outcome = {"status": ClaimStatus.PAID, "program_paid": reserved.granted}
        uow.claims.set_outcome(claim_id, ClaimStatus.RECEIVED, decided_at=ledger.now(), **outcome)
        claim_event(uow, claim, "decided", "system", {"after": outcome})
    wake(claim_id)
