"""The decision channel: a stored claim goes to the workers, and its decision comes back
to the request waiting for it, both over Redis.

- publish: one LPUSH of Celery's own task message onto the `claims` queue, or onto
  `claims-async` when no request waits for the decision (the workers take `claims` first);
- announce: the worker RPUSHes the rendered decision (or a bare "decided" token) onto a
  short-lived list named after the claim;
- await_answer: the request BLPOPs that list until the decision or its timeout.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger(__name__)

DONE = b"1"  # the token that says "decided" without the decision: read it from the ledger
DONE_GRACE_SECONDS = 5  # a token outlives the longest wait by this much, then expires
BLPOP_SLICE = 1.0  # seconds; below any sane Redis client socket timeout


class DecisionChannel:
    def __init__(
        self,
        client: redis.Redis,
        sync_timeout: float,
        publish: Callable[[str], None],
        publish_unwaited: Callable[[str], None] | None = None,
        queues: tuple[str, ...] = (),
    ) -> None:
        """`publish` sends a claim a request waits for, `publish_unwaited` one nobody waits
        for (by default `publish` too); `queues` are the lists they push onto."""
        self._client = client
        self._sync_timeout = sync_timeout
        self._publish = publish
        self._publish_unwaited = publish_unwaited or publish
        self._queues = queues

    def publish(self, claim_id: str, *, waited: bool = False) -> bool:
        """Hand a stored claim to the workers, on the queue they take first if a request
        `waited` for it; False if Redis is unreachable just now (the claim is in the
        ledger: the sweep publishes it once Redis is back)."""
        try:
            (self._publish if waited else self._publish_unwaited)(claim_id)
        except redis.RedisError:
            log.warning("enqueue failed: left to the sweep", extra={"claim_id": claim_id})
            return False
        return True

    def backlog(self) -> int:
        """How many claims wait in the queues, not yet taken by a worker (0 if Redis is
        unreachable: then nothing can be published either)."""
        if not self._queues:
            return 0
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for queue in self._queues:
                    pipe.llen(queue)
                return sum(pipe.execute())
        except redis.RedisError:
            return 0

    def announce(self, claim_id: str, answer: str | None = None) -> None:
        """Wake the request waiting for this claim, with the rendered decision if given."""
        key = _answer_key(claim_id)
        # Only a request already waiting can take it: nobody reads it after the longest wait
        # (the rendered decision names the cardholder, so it must not linger in Redis).
        ttl = math.ceil(self._sync_timeout) + DONE_GRACE_SECONDS
        with self._client.pipeline(transaction=False) as pipe:
            pipe.rpush(key, answer or DONE)
            pipe.expire(key, ttl)
            pipe.execute()

    def await_answer(self, claim_id: str, timeout: float) -> bytes | None:
        """What the worker announced (the rendered decision or DONE); None if nothing came
        in time or Redis went away (the ledger still says whether it was decided)."""
        # BLPOP sleeps until the push, in slices shorter than the client's socket timeout
        # (redis-py 8: 5 s), and never BLPOP 0 (or under 2 ms, which Redis 6 reads as 0),
        # which would wait forever.
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) >= 0.01:
            try:
                popped = self._client.blpop([_answer_key(claim_id)], timeout=min(left, BLPOP_SLICE))
            except redis.RedisError:
                return None
            if popped:
                answer = popped[1]
                return answer if isinstance(answer, bytes) else str(answer).encode()
        return None


def _answer_key(claim_id: str) -> str:
    return f"claim-done:{claim_id}"


class TaskPublisher:
    """Sends a task with one LPUSH, in the very message `send_task` would write to Redis.

    The web sends one task per claim on its hot path. `send_task` spends ~0.5 ms of CPU on
    it (kombu's producer pool, its retry wrapper and a new Redis client per publish); this
    spends ~0.15 ms. The task message is Celery's own (`as_task_v2`, task protocol 2); only
    the envelope kombu's Redis transport stores around it is written here, and
    tests/integration/test_publish.py holds it equal to send_task's, field by field, and
    has a real worker run it. The broker must be `client`'s Redis.
    """

    def __init__(self, celery: Any, client: redis.Redis) -> None:
        self._build = celery.amqp.as_task_v2
        self._client = client

    def publish(self, task_name: str, args: list[Any], queue: str) -> str:
        task_id = str(uuid.uuid4())
        # argsrepr given, so Celery skips saferepr (slow) for these short string ids.
        message = self._build(
            task_id, task_name, args=args, argsrepr=repr(args), kwargsrepr="{}", ignore_result=True
        )
        self._client.lpush(queue, json.dumps(envelope(message, queue)))
        return task_id


def envelope(message: Any, queue: str) -> dict[str, Any]:
    """kombu's Redis transport envelope: base64 body, delivery info, priority 0."""
    body = json.dumps(message.body).encode()
    return {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": message.headers,
        "properties": {
            **message.properties,
            "delivery_mode": 2,  # persistent
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,  # kombu keeps priority 0 on the list named after the queue
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
