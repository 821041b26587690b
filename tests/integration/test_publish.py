"""The web's one-LPUSH publisher writes the message Celery's own send_task writes."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from adjudicator.config import Config
from tasks.celery_app import make_celery
from tasks.publish import TaskPublisher

pytestmark = pytest.mark.integration

TASK = "adjudicator.adjudicate_claim"
PER_MESSAGE = {"id", "root_id", "origin", "correlation_id", "reply_to", "delivery_tag"}


@pytest.fixture
def celery(redis_url: str, tmp_path) -> Iterator[Celery]:  # type: ignore[no-untyped-def]
    app = make_celery(Config(data_dir=tmp_path, database_url="sqlite://", redis_url=redis_url))
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def queue(redis_client: redis.Redis, key_prefix: str) -> str:
    return f"publish-{key_prefix}"  # deleted with the test's keys


def _pop(client: redis.Redis, queue: str) -> dict[str, Any]:
    assert client.llen(queue) == 1
    return json.loads(client.rpop(queue))  # type: ignore[arg-type]


def _without(fields: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in names}


def test_the_published_message_is_the_one_send_task_writes(celery, redis_client, queue):
    celery.send_task(TASK, args=["claim-1"], queue=queue)
    sent = _pop(redis_client, queue)
    TaskPublisher(celery, redis_client).publish(TASK, ["claim-1"], queue)
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


def test_each_message_has_its_own_task_id_and_delivery_tag(celery, redis_client, queue):
    publisher = TaskPublisher(celery, redis_client)
    ids = {publisher.publish(TASK, ["claim-1"], queue) for _ in range(3)}
    messages = [_pop_any(redis_client, queue) for _ in range(3)]

    assert {m["headers"]["id"] for m in messages} == ids
    assert {m["headers"]["root_id"] for m in messages} == ids
    assert len({m["properties"]["delivery_tag"] for m in messages}) == 3
    assert {m["properties"]["correlation_id"] for m in messages} == ids


def _pop_any(client: redis.Redis, queue: str) -> dict[str, Any]:
    return json.loads(client.rpop(queue))  # type: ignore[arg-type]


def test_a_task_id_is_a_uuid(celery, redis_client, queue):
    task_id = TaskPublisher(celery, redis_client).publish(TASK, ["x"], queue)
    assert str(uuid.UUID(task_id)) == task_id
