"""One configuration, read from the environment, shared by web, worker and CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    redis_url: str | None  # None: start the embedded Redis under data_dir
    sync_timeout: float = 10.0
    max_body_bytes: int = 64 * 1024
    secret_key: str = field(default="", repr=False)
    sweep_after_seconds: int = 30  # a claim still `received` this long is re-enqueued
    proxy_hops: int = 0  # reverse proxies in front of the web whose X-Forwarded-* to trust

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("ADJUDICATOR_DATA_DIR", "./var")).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'adjudicator.db'}"
        return cls(
            data_dir=data_dir,
            database_url=normalize_database_url(database_url),
            redis_url=env.get("REDIS_URL") or None,
            sync_timeout=float(env.get("ADJUDICATOR_SYNC_TIMEOUT", "10")),
            secret_key=env.get("ADJUDICATOR_SECRET_KEY", ""),
            sweep_after_seconds=int(env.get("ADJUDICATOR_SWEEP_AFTER", "30")),
            proxy_hops=_hops(env.get("ADJUDICATOR_PROXY_HOPS", "0")),
        )

    def with_redis(self, redis_url: str) -> Config:
        return Config(**{**self.__dict__, "redis_url": redis_url})


def _hops(value: str) -> int:
    hops = int(value)
    if hops < 0:
        raise ValueError("ADJUDICATOR_PROXY_HOPS must be 0 or more")
    return hops


def normalize_database_url(url: str) -> str:
    """Point plain postgresql:// URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
