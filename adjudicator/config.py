"""One configuration, read from the environment, shared by web, worker and CLI."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Rate:
    """A credential's rate limit: `per_second` sustained, with bursts of `burst`."""

    per_second: int
    burst: int

    @classmethod
    def parse(cls, value: str, name: str) -> Rate:
        """`20,100`: 20 requests a second sustained, bursts of 100."""
        try:
            per_second, burst = (int(part) for part in value.split(","))
        except ValueError:
            raise ValueError(f"{name} must be `per second,burst`, e.g. 20,100") from None
        if not 0 < per_second <= burst:
            raise ValueError(f"{name}: 0 < per second <= burst")
        return cls(per_second, burst)

    @property
    def window_seconds(self) -> int:
        """The moving window that gives this rate: `burst` requests in any window this
        long. Whole seconds, rounded up, so the sustained rate is never above the one set."""
        return math.ceil(self.burst / self.per_second)

    def limit(self) -> str:
        """As the `limits` library writes it: `100 per 5 second`."""
        return f"{self.burst} per {self.window_seconds} second"


# Where rate limits are counted in Redis: web/limits.py (Flask-Limiter) and the D.0
# socket (adapters/switch_throttle.py) share each credential's budget under this prefix.
RATE_KEY_PREFIX = "rate"

# Every kind of credential has a limit of its own (API.md): by the principal's role.
CREDENTIAL_KINDS = {
    "pharmacy": "pharmacy",
    "reviewer": "staff",
    "admin": "staff",
    "switch": "switch",
}


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
    rate_pharmacy: Rate = Rate(20, 100)
    rate_staff: Rate = Rate(20, 100)
    rate_switch: Rate = Rate(200, 1000)
    max_undecided: int = 1000  # claims still `received` before a pharmacy's async ones get 429
    metrics_token: str = field(default="", repr=False)  # set: /metrics wants it as a bearer

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
            rate_pharmacy=_rate(env, "ADJUDICATOR_RATE_PHARMACY", cls.rate_pharmacy),
            rate_staff=_rate(env, "ADJUDICATOR_RATE_STAFF", cls.rate_staff),
            rate_switch=_rate(env, "ADJUDICATOR_RATE_SWITCH", cls.rate_switch),
            max_undecided=_positive(env.get("ADJUDICATOR_MAX_UNDECIDED", "1000"), "MAX_UNDECIDED"),
            metrics_token=env.get("ADJUDICATOR_METRICS_TOKEN", ""),
        )

    def rate_for(self, role: str) -> Rate:
        """The rate limit of a credential with this role."""
        kind = CREDENTIAL_KINDS[role]
        return {"pharmacy": self.rate_pharmacy, "staff": self.rate_staff}.get(
            kind, self.rate_switch
        )

    def with_redis(self, redis_url: str) -> Config:
        return Config(**{**self.__dict__, "redis_url": redis_url})


def _hops(value: str) -> int:
    hops = int(value)
    if hops < 0:
        raise ValueError("ADJUDICATOR_PROXY_HOPS must be 0 or more")
    return hops


def _rate(env: dict[str, str], name: str, default: Rate) -> Rate:
    return Rate.parse(env[name], name) if name in env else default


def _positive(value: str, name: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"ADJUDICATOR_{name} must be 1 or more")
    return number


def normalize_database_url(url: str) -> str:
    """Point plain postgresql:// URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
