"""The Celery app for web (to send) and worker (to run): one config for both."""

from __future__ import annotations

from celery import Celery
from celery.signals import setup_logging, worker_init

from adjudicator.config import Config
from tasks.broker import broker_url

CLAIMS_QUEUE = "claims"  # claims a request waits for: workers take these first
CLAIMS_ASYNC_QUEUE = "claims-async"  # `Prefer: respond-async` claims and the sweep's
ADJUDICATE_CLAIM = "adjudicator.adjudicate_claim"  # the task's name, which messages carry
BATCH_QUEUE = "batch"
READJUDICATE = "adjudicator.readjudicate"
SWEEP_EVERY_SECONDS = 15.0


def make_celery(config: Config) -> Celery:
    """Build the app; nothing connects until a task is sent or a worker starts."""
    broker = broker_url(config.redis_url or "redis://127.0.0.1:6379/0")
    app = Celery("adjudicator", broker=broker, include=["tasks.claims", "tasks.batch"])
    app.conf.update(
        task_default_queue=CLAIMS_QUEUE,
        task_routes={ADJUDICATE_CLAIM: {"queue": CLAIMS_QUEUE}},
        task_acks_late=True,  # a claim is acknowledged only once it is decided
        task_reject_on_worker_lost=True,  # a killed child puts its claim back
        task_ignore_result=True,  # decisions live in the ledger, not a result backend
        worker_prefetch_multiplier=1,  # one claim reserved per child: docs/decisions.md #53
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": 300,
            # BRPOP the worker's queues in its `-Q` order every time (`claims` before
            # `claims-async`), not round robin: a waiting claim is taken before any claim
            # nobody waits for, however many of those are queued (docs/decisions.md #94).
            "queue_order_strategy": "priority",
        },
        task_serializer="json",
        accept_content=["json"],
        beat_schedule={
            "sweep-received-claims": {
                "task": "adjudicator.sweep_received",
                "schedule": SWEEP_EVERY_SECONDS,
                "options": {"queue": CLAIMS_QUEUE, "expires": SWEEP_EVERY_SECONDS},
            }
        },
        worker_hijack_root_logger=False,
    )
    app.conf.adjudicator_config = config
    return app


# The worker's entry point: `celery -A tasks.celery_app worker -Q claims,claims-async`.
app = make_celery(Config.from_env())


@setup_logging.connect
def _structured_logs(**_kwargs: object) -> None:
    import logging

    from adjudicator.logs import configure

    configure()
    # Celery's per-task "received"/"succeeded" lines would double the log volume of
    # every claim; our own "claim decided" line says what matters.
    for name in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(name).setLevel(logging.WARNING)


@worker_init.connect
def _refuse_evicting_redis(sender: object = None, **_kwargs: object) -> None:
    """The worker, like the web app, will not run on a Redis that may evict totals."""
    import redis

    from adjudicator.adapters.accumulator import EvictingRedisError, ensure_no_eviction

    client = redis.Redis.from_url(app.conf.adjudicator_config.redis_url)
    try:
        ensure_no_eviction(client)
    except EvictingRedisError as error:
        # Celery logs and swallows an Exception raised by a signal handler: exit instead.
        raise SystemExit(f"refusing to start: {error}") from error
    finally:
        client.close()
