"""What /metrics shows of the ledger and of the last accumulator check, read when
scraped (adapters/metrics.py)."""

from __future__ import annotations

from typing import Any

import redis

from adjudicator.services.runtime import Runtime


def read(rt: Runtime) -> dict[str, Any]:
    with rt.ledger.reading() as uow:
        claims = uow.claims.counts()
        money = uow.money.totals()
    try:
        mismatches = rt.accumulator.last_check()
    except redis.RedisError:  # the ledger's figures still answer
        mismatches = None
    received = sum(n for (_door, status), n in claims.items() if status == "received")
    return {"claims": claims, "received": received, "money": money, "mismatches": mismatches}
