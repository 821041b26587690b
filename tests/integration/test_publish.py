"""The web's one-LPUSH publisher writes the message Celery's own send_task writes."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
import redis

from adjudicator.adapters.decision_channel import TaskPublisher
from tasks.celery_app import ADJUDICATE_CLAIM

pytestmark = pytest.mark.integration

PER_MESSAGE = {"id", "root_id", "origin", "correlation_id", "reply_to", "delivery_tag"}


@pytest.fixture
def queue(redis_client: redis.Redis, key_prefix: str) -> str:
    return f"publish-{key_prefix}"  # deleted with the test's keys


def _pop(client: redis.Redis, queue: str, *, alone: bool = True) -> dict[str, Any]:
    """The oldest message; `alone`: it must be the only one."""
    assert not alone or client.llen(queue) == 1
    return json.loads(client.rpop(queue))  # type: ignore[arg-type, no-any-return]  # JSON bytes


def _without(fields: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in names}


def test_the_published_message_is_the_one_send_task_writes(celery_app, redis_client, queue):
    celery_app.send_task(ADJUDICATE_CLAIM, args=["claim-1"], queue=queue)
    sent = _pop(redis_client, queue)
    TaskPublisher(celery_app, redis_client).publish(ADJUDICATE_CLAIM, ["claim-1"], queue)
    published = _pop(redis_client, queue)

    assert published.keys() == sent.keys()
    assert base64.b64decode(published["body"]) == base64.b64decode(sent["body"])
    # send_task leaves ignore_result to the task (null); we say it: no result is kept.
    assert sent["headers"].pop("ignore_result") is None
    assert published["headers"].pop("ignore_result") is True
    assert _without(published["headers"], PER_MESSAGE) == _without(sent["headers"], PER_MESSAGE)
    assert _without(published["properties"], PER_MESSAGE) == _without(
        sent["properties"], PER_MESSAGE
    )


def test_each_message_has_its_own_task_id_and_delivery_tag(celery_app, redis_client, queue):
    publisher = TaskPublisher(celery_app, redis_client)
    ids = {publisher.publish(ADJUDICATE_CLAIM, ["claim-1"], queue) for _ in range(3)}
    messages = [_pop(redis_client, queue, alone=False) for _ in range(3)]

    assert {m["headers"]["id"] for m in messages} == ids
    assert {m["headers"]["root_id"] for m in messages} == ids
    assert len({m["properties"]["delivery_tag"] for m in messages}) == 3
    assert {m["properties"]["correlation_id"] for m in messages} == ids


def test_a_task_id_is_a_uuid(celery_app, redis_client, queue):
    task_id = TaskPublisher(celery_app, redis_client).publish(ADJUDICATE_CLAIM, ["x"], queue)
    assert str(uuid.UUID(task_id)) == task_id
