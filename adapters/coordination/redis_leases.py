"""RedisKeyLeases: the coordination port shared by every replica that points at one Redis.

A lease is a Redis string `key -> "holder:fence"` set with NX and PX (it expires on its own, so a dead
holder blocks nobody for long); the fencing number comes from one INCR counter, bumped in the same script
that sets the key, so it grows with every grant across replicas. Only the holder releases: a Lua
compare-and-delete leaves a key alone once it expired and was granted to someone else. Keys arrive already
hashed (core.coordination.record_key): Redis never holds a customer value.

When Redis does not answer within the client's socket timeout, acquire and release raise
CoordinationUnavailable (core.coordination): the caller answers the events that needed the lease retryable.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from core.coordination import CoordinationUnavailable, Lease

# The counter every grant bumps (one for all keys: it never needs cleaning up).
FENCE_KEY = "sfdest:fence"
# How long a waiter sleeps between looks, first and at most: a release is seen within _POLL_MAX.
_POLL_MIN, _POLL_MAX = 0.005, 0.05

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. fence, 'PX', ARGV[2])
  return fence
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def call(command: Any, *args: Any, **kwargs: Any) -> Any:
    """`command(...)`, with any Redis failure (down, timed out, refused) as CoordinationUnavailable."""
    import redis

    try:
        return command(*args, **kwargs)
    except redis.RedisError as exc:
        raise CoordinationUnavailable(f"Redis did not answer ({type(exc).__name__})") from None


def connect(url: str, timeout_seconds: float = 2.0) -> Any:
    """A thread-safe client (a connection pool) for `url`; every command waits at most `timeout_seconds`."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds,
                                health_check_interval=30)


class RedisKeyLeases:
    """Leases in Redis; `client` is a redis.Redis (or fakeredis) instance."""

    def __init__(self, client: Any):
        self._client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    def acquire(self, key: str, ttl_seconds: float, wait_until: float | None) -> Lease | None:
        holder = secrets.token_hex(8)
        ttl_ms = max(1, int(ttl_seconds * 1000))
        poll = _POLL_MIN
        while True:
            now = time.monotonic()
            fence = int(call(self._acquire, keys=[key, FENCE_KEY], args=[holder, ttl_ms]))
            if fence:
                return Lease(key, f"{holder}:{fence}", fence, now + ttl_seconds)
            if wait_until is not None and time.monotonic() >= wait_until:
                return None
            pause = poll if wait_until is None else min(poll, max(0.0, wait_until - time.monotonic()))
            time.sleep(pause)
            poll = min(_POLL_MAX, poll * 2)

    def release(self, lease: Lease) -> None:
        call(self._release, keys=[lease.key], args=[lease.holder])

    def close(self) -> None:
        self._client.close()
