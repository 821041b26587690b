"""Redis fixtures: the server at REDIS_URL when set, else one embedded server per session.

Tests share the server, so nothing is flushed: each test gets a unique `key_prefix`, puts
it in every key it writes (e.g. cardholder ids), and `redis_client` deletes those keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from adjudicator.adapters.accumulator import Accumulator
from adjudicator.adapters.embedded_redis import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def key_prefix() -> str:
    return f"t{uuid.uuid4().hex}"


@pytest.fixture
def redis_client(redis_url: str, key_prefix: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        for key in client.scan_iter(match=f"*{key_prefix}*", count=1000):
            client.delete(key)  # one key per call: fine on Redis Cluster too
        client.close()


@pytest.fixture
def acc(redis_client: redis.Redis) -> Accumulator:
    """The accumulator on `redis_client`, whose keys go when the test ends."""
    return Accumulator(redis_client)


@pytest.fixture
def patient(key_prefix: str) -> str:
    """A cardholder id of this test's own."""
    return f"{key_prefix}-patient"
