"""The connections one process needs, built once from the Config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import Engine

from adjudicator.adapters.accumulator import Accumulator
from adjudicator.adapters.db import make_engine
from adjudicator.config import Config


@dataclass
class Runtime:
    config: Config
    engine: Engine
    redis: redis.Redis
    accumulator: Accumulator
    enqueue: Callable[[str], None]  # send a claim id to the `claims` queue

    def close(self) -> None:
        self.redis.close()
        self.engine.dispose()


def build_runtime(config: Config, enqueue: Callable[[str], None]) -> Runtime:
    if not config.redis_url:
        raise RuntimeError("REDIS_URL is not set; start the embedded Redis first")
    client = redis.Redis.from_url(config.redis_url, max_connections=64)
    return Runtime(
        config=config,
        engine=make_engine(config.database_url),
        redis=client,
        accumulator=Accumulator(client),
        enqueue=enqueue,
    )
