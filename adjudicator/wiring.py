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
) -> Runtime:
    """Connections are opened on first use, never here: build it after fork.

    `enqueue` and `send_job` replace the Celery publishers (tests that run no worker)."""
    if not config.redis_url:
        raise RuntimeError("REDIS_URL is not set; start the embedded Redis first")
    client = redis.Redis.from_url(config.redis_url, max_connections=64)
    if enqueue is None or send_job is None:
        celery = celery or celery_app(config)
    return Runtime(
        config=config,
        ledger=SqlLedger.from_url(config.database_url),
        redis=client,
        accumulator=Accumulator(client),
        decisions=DecisionChannel(
            client, config.sync_timeout, enqueue or _claim_publisher(celery, client)
        ),
        send_job=send_job or _job_sender(celery),
    )


def _claim_publisher(celery: Any, client: redis.Redis) -> Callable[[str], None]:
    """Publishes `adjudicate_claim` to the `claims` queue over the Runtime's own client."""
    from tasks.celery_app import ADJUDICATE_CLAIM, CLAIMS_QUEUE

    publisher = TaskPublisher(celery, client)

    def publish(claim_id: str) -> None:
        publisher.publish(ADJUDICATE_CLAIM, [claim_id], CLAIMS_QUEUE)

    return publish


def _job_sender(celery: Any) -> Callable[[str], None]:
    """Sends job ids to the `batch` queue, where `adjudicator run`'s worker listens too."""
    from tasks.celery_app import BATCH_QUEUE, READJUDICATE

    def send(job_id: str) -> None:
        celery.send_task(READJUDICATE, args=[job_id], queue=BATCH_QUEUE)

    return send
