"""Claim intake: store a claim `received`, enqueue it, and wait for its decision (the
worker announces it here too, so both ends of that hand-off live in one place).

The worker side is services/adjudication.py, reversals services/reversals.py.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

import redis
from sqlalchemy import Connection, Row

from adjudicator.adapters import ledger
from adjudicator.adapters.db import reading
from adjudicator.services import records
from adjudicator.services.runtime import Runtime

log = logging.getLogger(__name__)

DONE = b"1"  # the token that says "decided" without the decision: read it from the ledger
DONE_GRACE_SECONDS = 5  # a token outlives the longest wait by this much, then expires
BLPOP_SLICE = 1.0  # seconds; below any sane Redis client socket timeout


@dataclass(frozen=True)
class Intake:
    claim_id: str
    duplicate: bool  # an identical resubmission of a paid claim: answer, change nothing
    new: bool  # a new claim was stored (and enqueued, unless `queued` says not)
    received: Any = None  # a new claim as stored (row attributes), for its 202 answer
    queued: bool = True  # False: the broker refused it; the sweep will enqueue it


def submit(rt: Runtime, data: dict[str, Any]) -> Intake:
    """Store the claim as `received` and enqueue it, unless it repeats an earlier one."""
    request = records.normalized_claim_request(data)
    digest = records.request_hash(request)
    with rt.engine.begin() as conn:
        earlier = _identical_earlier_claim(conn, request, digest)
        if earlier is not None:
            return Intake(earlier.claim_id, duplicate=earlier.status == "paid", new=False)
        claim_id = uuid.uuid4().hex
        stored = records.received_claim(claim_id, data, request, digest)
        ledger.insert_claim(conn, **stored)
        npi = request["service_provider_id"]
        claim_event(conn, claim_id, request["cardholder_id"], "received", f"pharmacy:{npi}")
    queued = _enqueue(rt, claim_id)
    log.debug("claim received", extra={"claim_id": claim_id})
    undecided = {"decision": None, "authorization_number": None, "review": None}
    received = SimpleNamespace(**stored, **undecided, duplicate_of=None)
    return Intake(claim_id, duplicate=False, new=True, received=received, queued=queued)


def _enqueue(rt: Runtime, claim_id: str) -> bool:
    """Hand the stored claim to the workers; False if Redis is unreachable just now.

    The claim is in the ledger already: the sweep enqueues it once Redis is back, so the
    pharmacy hears 202 and where to look, not an error for a claim that will be decided.
    """
    try:
        rt.enqueue(claim_id)
    except redis.RedisError:
        log.warning("enqueue failed: left to the sweep", extra={"claim_id": claim_id})
        return False
    return True


def _identical_earlier_claim(conn: Connection, request: dict[str, Any], digest: str) -> Any:
    """A paid or still undecided claim with the same key and the same content."""
    same_key = ledger.claims_with_key(
        conn,
        request["service_provider_id"],
        request["rx_number"],
        request["fill_number"],
        _dos(request),
    )
    for row in same_key:
        if row.request_hash == digest and row.status in ("paid", "received"):
            return row
    return None


def wait_for_decision(rt: Runtime, intake: Intake, timeout: float) -> Row[Any] | None:
    """The decided claim row, or None if it is still `received` when the wait runs out."""
    decided = wait_for_answer(rt, intake, timeout)
    return read_claim(rt, intake.claim_id) if isinstance(decided, str) else decided


def wait_for_answer(rt: Runtime, intake: Intake, timeout: float) -> str | Row[Any] | None:
    """The decision as the worker rendered it when it sent one (the request then answers
    without reading the claim back), else the decided claim row, else None."""
    if intake.new:
        if not intake.queued:
            return None  # nobody is deciding it yet: answer 202 now
        token = _await_done(rt, intake.claim_id, timeout)
        if token is not None and token != DONE:
            return token.decode()
        return _decided_row(rt, intake.claim_id)
    return _poll_until_decided(rt, intake.claim_id, timeout)


# --- the hand-off: the worker pushes onto a short-lived list per claim, the request
# waiting for that claim BLPOPs it.


def announce_decided(rt: Runtime, claim_id: str, answer: str | None = None) -> None:
    """Wake the request waiting for this claim, with the rendered decision if given."""
    key = _done_key(claim_id)
    # Only a request already waiting can take it: nobody reads it after the longest wait
    # (the rendered decision names the cardholder, so it must not linger in Redis).
    ttl = math.ceil(rt.config.sync_timeout) + DONE_GRACE_SECONDS
    with rt.redis.pipeline(transaction=False) as pipe:
        pipe.rpush(key, answer or DONE).expire(key, ttl).execute()


def _await_done(rt: Runtime, claim_id: str, timeout: float) -> bytes | None:
    """What the worker pushed when it had decided (None if nothing came in time)."""
    # BLPOP sleeps until the push, in slices shorter than the client's socket timeout
    # (redis-py 8: 5 s), and never BLPOP 0 (or under 2 ms, which Redis 6 reads as 0),
    # which would wait forever.
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) >= 0.01:
        try:
            popped = rt.redis.blpop([_done_key(claim_id)], timeout=min(left, BLPOP_SLICE))
        except redis.RedisError:
            return None  # Redis went away: the ledger still says whether it was decided
        if popped:
            return popped[1]  # type: ignore[return-value]  # no decode_responses: bytes
    return None


def _decided_row(rt: Runtime, claim_id: str) -> Row[Any] | None:
    row = read_claim(rt, claim_id)
    return row if row is not None and row.status != "received" else None


def _poll_until_decided(rt: Runtime, claim_id: str, timeout: float) -> Row[Any] | None:
    deadline = time.monotonic() + timeout
    while True:
        row = read_claim(rt, claim_id)
        if row is not None and row.status != "received":
            return row
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _done_key(claim_id: str) -> str:
    return f"claim-done:{claim_id}"


def read_claim(rt: Runtime, claim_id: str) -> Row[Any] | None:
    with reading(rt.engine) as conn:
        return ledger.claim(conn, claim_id)


def claim_event(
    conn: Connection,
    claim_id: str,
    cardholder_id: str,
    type_: str,
    actor: str,
    data: dict[str, Any] | None = None,
) -> None:
    ledger.add_event(
        conn,
        actor=actor,
        entity_type="claim",
        entity_id=claim_id,
        cardholder_id=cardholder_id,
        type=type_,
        data=data or {},
    )


def _dos(request: dict[str, Any]) -> date:
    return date.fromisoformat(request["date_of_service"])
