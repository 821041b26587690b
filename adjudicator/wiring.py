"""The one place that builds a process's parts from its Config: the Celery app (one per
configuration, shared by web, worker and CLI) and the Runtime the use cases work with."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import redis

from adjudicator.adapters.accumulator import Accumulator
from adjudicator.adapters.decision_channel import DecisionChannel, TaskPublisher
from adjudicator.adapters.sql_ledger import SqlLedger
from adjudicator.config import Config
from adjudicator.services.runtime import Runtime


def celery_app(config: Config) -> Any:
    """The Celery app for `config`: the worker's own when the configurations agree."""
    from tasks.celery_app import app

    if app.conf.adjudicator_config == config:
        return app
    return _other_celery_app(config)


@lru_cache(maxsize=8)
def _other_celery_app(config: Config) -> Any:
    from tasks.celery_app import make_celery

    return make_celery(config)


def build_runtime(
    config: Config,
    *,
    celery: Any = None,
    enqueue: Callable[[str], None] | None = None,
    send_job: Callable[[str], None] | None = None,
    claim_queues: tuple[str, str] | None = None,
) -> Runtime:
    """Connections are opened on first use, never here: build it after fork.

    `enqueue` and `send_job` replace the Celery publishers (tests that run no worker);
    `claim_queues` (waited, unwaited) replace `claims` and `claims-async` (tests whose
    worker must take only their own messages)."""
    if not config.redis_url:
        raise RuntimeError("REDIS_URL is not set; start the embedded Redis first")
    client = redis.Redis.from_url(config.redis_url, max_connections=64)
    if enqueue is None or send_job is None:
        celery = celery or celery_app(config)
    if enqueue is not None:
        decisions = DecisionChannel(client, config.sync_timeout, enqueue)
    else:
        from tasks.celery_app import CLAIMS_ASYNC_QUEUE, CLAIMS_QUEUE

        waited, unwaited = claim_queues or (CLAIMS_QUEUE, CLAIMS_ASYNC_QUEUE)
        decisions = DecisionChannel(
            client,
            config.sync_timeout,
            _claim_publisher(celery, client, waited),
            _claim_publisher(celery, client, unwaited),
            queues=(waited, unwaited),
        )
    return Runtime(
        config=config,
        ledger=SqlLedger.from_url(config.database_url),
        redis=client,
        accumulator=Accumulator(client),
        decisions=decisions,
        send_job=send_job or _job_sender(celery),
    )


def _claim_publisher(celery: Any, client: redis.Redis, queue: str) -> Callable[[str], None]:
    """Publishes `adjudicate_claim` to `queue` over the Runtime's own client."""
    from tasks.celery_app import ADJUDICATE_CLAIM

    publisher = TaskPublisher(celery, client)

    def publish(claim_id: str) -> None:
        publisher.publish(ADJUDICATE_CLAIM, [claim_id], queue)

    return publish


def _job_sender(celery: Any) -> Callable[[str], None]:
    """Sends job ids to the `batch` queue, where `adjudicator run`'s worker listens too."""
    from tasks.celery_app import BATCH_QUEUE, READJUDICATE

    def send(job_id: str) -> None:
        celery.send_task(READJUDICATE, args=[job_id], queue=BATCH_QUEUE)

    return send
