"""Console sign-in throttling: failed passwords are counted in Redis, and past a limit
sign-in is refused for the rest of the window, before any password is checked.

Two counters, each a fixed window that starts at its first failure:
- per username *and* client address: a few tries, so guessing one staff member's
  password is slow, while someone guessing from elsewhere cannot lock them out;
- per client address, whatever the username: many tries, since a hub's staff may
  share one address, so one address cannot sweep through usernames.
"""

from __future__ import annotations

import hashlib

import redis

FAILURES_PER_USER = 5  # per username and address, per window
FAILURES_PER_ADDRESS = 100  # per address, per window
WINDOW_SECONDS = 15 * 60


def wait_seconds(client: redis.Redis, username: str, address: str) -> int:
    """How long sign-in from `address` as `username` is refused; 0 when it is allowed."""
    keys = _keys(username, address)
    limits = (FAILURES_PER_USER, FAILURES_PER_ADDRESS)
    counts = client.mget(keys)
    over = [
        key
        for key, count, limit in zip(keys, counts, limits, strict=True)
        if int(count or 0) >= limit
    ]
    return max((max(client.ttl(key), 1) for key in over), default=0)


def failed(client: redis.Redis, username: str, address: str) -> None:
    with client.pipeline(transaction=True) as pipe:
        for key in _keys(username, address):
            # SET NX starts the window at the first failure; INCR counts within it.
            pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True).incr(key)
        pipe.execute()


def succeeded(client: redis.Redis, username: str, address: str) -> None:
    """A right password forgets this user's failures from this address (not the address's)."""
    client.delete(_keys(username, address)[0])


def _keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: bounded keys whatever was typed as a username.
    pair = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()[:32]
    return f"login-failures:user:{pair}", f"login-failures:address:{address}"
