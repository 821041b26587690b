"""The skeleton's Celery side: one task that only wakes the waiting request.

Built by `make_celery` from the service's own config (same broker transport, acks_late,
prefetch, serializer), and run by `bench.claims` under the very worker command line of
`adjudicator run`, so the skeleton pays what the service's Celery round trip pays and
nothing else. See bench/skeleton_app.py.
"""

from __future__ import annotations

import redis

from adjudicator.config import Config
from tasks.celery_app import make_celery

WAKE = "bench.skeleton_wake"
ANSWER = b'{"status": "accepted"}'

app = make_celery(Config.from_env())
_client: redis.Redis | None = None  # one per worker process, built after the fork


def done_key(request_id: str) -> str:
    return f"skeleton-done:{request_id}"


@app.task(name=WAKE)
def wake(request_id: str) -> None:
    """Push the answer the request waits for, as the service's worker announces a decision."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(app.conf.adjudicator_config.redis_url)
    key = done_key(request_id)
    with _client.pipeline(transaction=False) as pipe:
        pipe.rpush(key, ANSWER).expire(key, 30).execute()
