"""A switch's rate limit on the D.0 socket: the same budget as its HTTP requests.

web/limits.py counts each credential with Flask-Limiter's moving window in Redis under
`LIMITER/rate/<actor>/global/...`; this counts TCP frames under that very key with the
`limits` library Flask-Limiter runs on, so a switch that uses both doors has one budget
(API.md: each credential is limited on its own). Over it, a frame waits until the window
lets it through (docs/decisions.md #111): TCP's own back-pressure."""

from __future__ import annotations

import logging
import threading
import time

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from adjudicator.config import RATE_KEY_PREFIX, Rate

log = logging.getLogger(__name__)
SCOPE = "global"  # Flask-Limiter's scope of application-wide limits


class SwitchThrottle:
    def __init__(self, client: redis.Redis, rate: Rate) -> None:
        storage = RedisStorage("redis://", connection_pool=client.connection_pool)
        self._limiter = MovingWindowRateLimiter(storage)
        self._item: RateLimitItem = parse(rate.limit())

    def wait_turn(self, actor: str, stopping: threading.Event) -> bool:
        """Count one frame of `actor`, waiting while it is over its limit; False when the
        server began stopping meanwhile. Redis away: the frame goes through (as the web
        falls back to limiting in memory, a frame is not refused for Redis's sake)."""
        while not stopping.is_set():
            try:
                if self._limiter.hit(self._item, RATE_KEY_PREFIX, actor, SCOPE):
                    return True
                frees_at = self._limiter.get_window_stats(self._item, RATE_KEY_PREFIX, actor, SCOPE)
                wait = frees_at.reset_time - time.time()
            except redis.RedisError:
                log.warning("rate limit not counted: Redis did not answer")
                return True
            stopping.wait(min(max(wait, 0.01), 1.0))
        return False
