"""Console sign-in throttling: attempts are counted in Redis *before* the password is
checked, and past a limit sign-in is refused for the rest of the window.

The same mechanism as the API's rate limits (web/limits.py): the `limits` library and its
Redis storage, here with fixed windows that start at their first attempt. Two counters:
- per username *and* client address, cleared by a right password: a few tries, so
  guessing one staff member's password is slow, while someone guessing from elsewhere
  cannot lock them out;
- per client address, whatever the username: many tries, since a hub's staff may share
  one address, so one address cannot sweep through usernames.
Counting first means simultaneous guesses cannot all slip in before the first failure
is recorded.
"""

from __future__ import annotations

import hashlib
import math
import time

import redis
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

FAILURES_PER_USER = 5  # tries per username and address with no right password between
ATTEMPTS_PER_ADDRESS = 100  # tries per address, whatever the username
WINDOW_MINUTES = 15
NAMESPACE = "login-attempts"


def attempt(client: redis.Redis, username: str, address: str) -> int:
    """Count a sign-in attempt; how many seconds it must wait (0: check the password)."""
    limiter = _limiter(client)
    waits = []
    for item, key in zip(_items(), _keys(username, address), strict=True):
        if not limiter.hit(item, key):
            frees_at = limiter.get_window_stats(item, key).reset_time
            waits.append(max(1, math.ceil(frees_at - time.time())))
    return max(waits, default=0)


def succeeded(client: redis.Redis, username: str, address: str) -> None:
    """A right password forgets this user's tries from this address (not the address's)."""
    _limiter(client).clear(_items()[0], _keys(username, address)[0])


def _limiter(client: redis.Redis) -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(RedisStorage("redis://", connection_pool=client.connection_pool))


def _items() -> tuple[RateLimitItem, RateLimitItem]:
    return (
        RateLimitItemPerMinute(FAILURES_PER_USER, WINDOW_MINUTES, namespace=NAMESPACE),
        RateLimitItemPerMinute(ATTEMPTS_PER_ADDRESS, WINDOW_MINUTES, namespace=NAMESPACE),
    )


def _keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: bounded keys whatever was typed as a username.
    pair = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()[:32]
    return f"user:{pair}", f"address:{address}"
