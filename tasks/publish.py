"""Send a task with one LPUSH, in the very message `send_task` would write to Redis.

The web sends one task per claim on its hot path. `send_task` spends ~0.5 ms of CPU on
it (kombu's producer pool, its retry wrapper and a new Redis client per publish); this
spends ~0.15 ms. The task message is Celery's own (`as_task_v2`, task protocol 2); only
the envelope kombu's Redis transport stores around it is written here, and
tests/integration/test_publish.py holds it equal to send_task's, field by field, and has
a real worker run it.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import redis
from celery import Celery

from adjudicator.config import Config
from adjudicator.services.runtime import Runtime, build_runtime
from tasks.celery_app import ADJUDICATE_CLAIM, CLAIMS_QUEUE


class TaskPublisher:
    """Publishes tasks onto their queue's Redis list (the broker must be that Redis)."""

    def __init__(self, celery: Celery, client: redis.Redis) -> None:
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


def runtime_publishing_claims(config: Config, celery: Celery) -> Runtime:
    """A Runtime whose enqueue publishes `adjudicate_claim` to the `claims` queue, over
    the Runtime's own Redis client (the web's intake and the worker's sweep)."""

    def enqueue(claim_id: str) -> None:
        publisher.publish(ADJUDICATE_CLAIM, [claim_id], CLAIMS_QUEUE)

    rt = build_runtime(config, enqueue=enqueue)
    publisher = TaskPublisher(celery, rt.redis)  # before any enqueue can run
    return rt


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
