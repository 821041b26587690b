"""Console sign-in throttling: attempts are counted in Redis *before* the password is
checked, and past a limit sign-in is refused for the rest of the window.

Two counters, each a fixed window that starts at its first attempt:
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

import redis

FAILURES_PER_USER = 5  # tries per username and address with no right password between
ATTEMPTS_PER_ADDRESS = 100  # tries per address, whatever the username
WINDOW_SECONDS = 15 * 60

# One key per script, so it runs on Redis Cluster too. The expiry is set with the first
# count, and set again should the key ever have lost it.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""


def attempt(client: redis.Redis, username: str, address: str) -> int:
    """Count a sign-in attempt; how many seconds it must wait (0: check the password)."""
    count = client.register_script(_COUNT)
    waits = []
    for key, limit in zip(
        _keys(username, address), (FAILURES_PER_USER, ATTEMPTS_PER_ADDRESS), strict=True
    ):
        tries, ttl = count(keys=[key], args=[WINDOW_SECONDS])
        if int(tries) > limit:
            waits.append(max(int(ttl), 1))
    return max(waits, default=0)


def succeeded(client: redis.Redis, username: str, address: str) -> None:
    """A right password forgets this user's tries from this address (not the address's)."""
    client.delete(_keys(username, address)[0])


def _keys(username: str, address: str) -> tuple[str, str]:
    # Hashed: bounded keys whatever was typed as a username.
    pair = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()[:32]
    return f"login-attempts:user:{pair}", f"login-attempts:address:{address}"
