"""Celery's broker: kombu's Redis transport, with one redis-py client per channel.

kombu's Redis channel builds a new redis-py client for every command it sends without
one at hand: each message's entry in the unacked index, each acknowledgement, each
publish. A redis-py 8 client costs ~80 µs to build, so the worker's main process spent
~0.17 ms of every claim on two throw-away clients. This channel builds one client, over
the channel's own connection pool (redis-py clients are thread-safe), and reuses it.

The transport is registered with kombu as `adjredis`; broker_url() spells REDIS_URL
with it (`adjredis://...`, or `adjredis+socket://<path>` for the embedded server's Unix
socket). Other schemes (rediss, sentinel) keep kombu's own transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlparse

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

SCHEME = "adjredis"


class Channel(kombu_redis.Channel):
    @cached_property
    def _shared_client(self) -> Any:
        return self._create_client()

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client or self._shared_client


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")


def broker_url(redis_url: str) -> str:
    """REDIS_URL as Celery's broker URL, on this transport where it applies."""
    parsed = urlparse(redis_url)
    if parsed.scheme == "unix":
        # kombu spells a Unix-socket Redis as <transport>+socket://path?virtual_host=db.
        db = parse_qs(parsed.query).get("db", ["0"])[0]
        return f"{SCHEME}+socket://{parsed.path}?virtual_host={db}"
    if parsed.scheme == "redis":
        return SCHEME + redis_url[len("redis") :]
    return redis_url
