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

# A script that takes something (a lease, a claim) does nothing once its last argument, a wall-clock instant in
# ms, has passed by Redis's clock: a command that reached Redis while it was paused, from a client that gave up
# waiting (and answered its events 503), must not take a key after the fact.
LATE = "late"
IN_TIME = """
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[#ARGV]) then return 'late' end
"""
# Clocks of replicas and Redis may disagree by this much (NTP keeps them far closer).
CLOCK_SKEW_SECONDS = 1.0

_ACQUIRE = IN_TIME + """
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


def not_after(command_seconds: float) -> int:
    """The last instant (wall clock, ms) at which a command sent now may still take something."""
    return int((time.time() + command_seconds + CLOCK_SKEW_SECONDS) * 1000)


def check_in_time(answer: Any) -> Any:
    if answer in (LATE, LATE.encode()):
        raise CoordinationUnavailable("Redis ran the command after its caller gave up (or the clocks of this "
                                      "replica and Redis disagree by more than a second)")
    return answer


def connect(url: str, timeout_seconds: float = 2.0) -> Any:
    """A thread-safe client (a connection pool) for `url`; every command waits at most `timeout_seconds`."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds,
                                health_check_interval=30)


class RedisKeyLeases:
    """Leases in Redis; `client` is a redis.Redis (or fakeredis) instance."""

    def __init__(self, client: Any, command_seconds: float = 2.0):
        self._client = client
        self._command_seconds = command_seconds
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    def acquire(self, key: str, ttl_seconds: float, wait_until: float | None) -> Lease | None:
        holder = secrets.token_hex(8)
        ttl_ms = max(1, int(ttl_seconds * 1000))
        poll = _POLL_MIN
        while True:
            now = time.monotonic()
            fence = int(check_in_time(call(self._acquire, keys=[key, FENCE_KEY],
                                           args=[holder, ttl_ms, not_after(self._command_seconds)])))
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
