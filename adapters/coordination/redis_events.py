"""RedisEventLedger: idempotency claims and recorded results shared by replicas (core.coordination.EventLedger).

A claim is SET NX PX "pending"; a record overwrites it with the encoded result for the window; a release
deletes a key only while it is still "pending" (one script, so a result recorded meanwhile is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.coordination.redis_leases import IN_TIME, call, check_in_time, not_after
from core.coordination import PENDING

_CLAIM = IN_TIME + """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = ''
  else
    out[i] = redis.call('GET', key) or ''
  end
end
return out
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""
# Keys per script call: bounded, so one call never blocks Redis for long.
_CHUNK = 500


class RedisEventLedger:
    def __init__(self, client: Any, command_seconds: float = 2.0):
        self._client = client
        self._command_seconds = command_seconds
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    def claim(self, keys: Sequence[str], ttl_seconds: float) -> list[str | None]:
        ttl = max(1, int(ttl_seconds * 1000))
        found: list[str | None] = []
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start:start + _CHUNK])
            answer = check_in_time(call(self._claim, keys=chunk, args=[PENDING, ttl, not_after(self._command_seconds)]))
            for value in answer:
                text = value.decode() if isinstance(value, bytes) else str(value)
                found.append(text or None)
        return found

    def record(self, results: dict[str, str], ttl_seconds: float) -> None:
        ttl = max(1, int(ttl_seconds * 1000))
        items = list(results.items())
        for start in range(0, len(items), _CHUNK):
            pipe = self._client.pipeline(transaction=False)
            for key, value in items[start:start + _CHUNK]:
                pipe.set(key, value, px=ttl)
            call(pipe.execute)

    def release(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), _CHUNK):
            call(self._release, keys=list(keys[start:start + _CHUNK]), args=[PENDING])
