"""Web app and worker refuse a Redis that may evict keys (it would forget patients' totals).

The evicting server is a private embedded Redis: never CONFIG SET on a shared server.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adjudicator.adapters.accumulator import EvictingRedisError
from adjudicator.adapters.embedded_redis import EmbeddedRedis
from adjudicator.config import Config

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def evicting_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    folder = tmp_path_factory.mktemp("evicting-redis")
    with EmbeddedRedis(folder, extra_config=["maxmemory-policy allkeys-lru"]) as server:
        yield server


@pytest.fixture
def root_logging() -> Iterator[None]:
    """create_app() configures the root logger; give this process its own back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_private_server_really_evicts(evicting_redis):
    import redis

    client = redis.Redis.from_url(evicting_redis.url)
    try:
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    finally:
        client.close()


def test_the_app_refuses_to_start_on_an_evicting_redis(
    evicting_redis, database_url, tmp_path, root_logging
):
    from adjudicator.web import create_app

    config = Config(data_dir=tmp_path, database_url=database_url, redis_url=evicting_redis.url)

    with pytest.raises(EvictingRedisError, match="allkeys-lru"):
        create_app(config)


def test_the_app_starts_on_the_sessions_noeviction_redis(
    database_url, redis_url, tmp_path, root_logging
):
    from adjudicator.web import create_app

    config = Config(data_dir=tmp_path, database_url=database_url, redis_url=redis_url)

    app = create_app(config)

    try:
        ready = app.test_client().get("/readyz")
    finally:
        app.extensions["adjudicator"].close()
    assert (ready.status_code, ready.json) == (200, {"status": "ok"})


def test_the_worker_refuses_to_start_on_an_evicting_redis(evicting_redis, database_url, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": evicting_redis.url,
        "ADJUDICATOR_DATA_DIR": str(tmp_path),
    }
    command = [str(BIN / "celery"), "-A", "tasks.celery_app", "worker", "--pool", "solo"]
    command += ["-Q", "refused-worker", "--without-gossip", "--without-mingle"]
    worker = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        pytest.fail(f"the worker kept running on an evicting Redis:\n{output[-3000:]}")

    assert worker.returncode != 0
    assert "noeviction" in output
