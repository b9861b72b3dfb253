"""RedisSlots: core.coordination.SharedSlots as a sorted set per key (member: holder, score: expiry in Redis
milliseconds); expired holders are dropped before counting, so a dead replica's slots come back by themselves."""

from __future__ import annotations

import secrets
import time
from typing import Any

from adapters.coordination.redis_leases import IN_TIME, call, check_in_time, not_after
from core.coordination import Lease

_ACQUIRE = IN_TIME + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3])) end
  return 1
end
return 0
"""
_POLL_MIN, _POLL_MAX = 0.005, 0.05


class RedisSlots:
    def __init__(self, client: Any, command_seconds: float = 2.0):
        self._client = client
        self._command_seconds = command_seconds
        self._acquire = client.register_script(_ACQUIRE)

    def acquire(self, key: str, cap: int, ttl_seconds: float, wait_until: float | None) -> Lease | None:
        holder = secrets.token_hex(8)
        poll = _POLL_MIN
        while True:
            args = [holder, cap, max(1, int(ttl_seconds * 1000)), not_after(self._command_seconds)]
            if int(check_in_time(call(self._acquire, keys=[key], args=args))):
                return Lease(key, holder, 0, time.monotonic() + ttl_seconds)
            now = time.monotonic()
            if wait_until is not None and now >= wait_until:
                return None
            time.sleep(poll if wait_until is None else min(poll, max(0.0, wait_until - now)))
            poll = min(_POLL_MAX, poll * 2)

    def release(self, lease: Lease) -> None:
        call(self._client.zrem, lease.key, lease.holder)
