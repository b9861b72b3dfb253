"""RedisNewestEvents: the stamps of newest-event-wins ordering (core.ordering) shared by every replica.

A stamp is a Redis string `sfdest:newest:<hash> -> "<20-digit timestamp> <event id>"`; stamps compare
as strings, byte by byte. `advance` is one Lua script per chunk: SET only when no stamp is stored or the stored
one is not newer, so concurrent writers never move a key back. Keys arrive hashed: Redis holds no customer value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.coordination.redis_leases import call

# Byte order, as Python compares the decoded strings (Lua's own `<` follows the server's locale).
_ADVANCE = """
local function at_least(new, cur)
  if new == cur then return true end
  for i = 1, math.min(#new, #cur) do
    local x, y = string.byte(new, i), string.byte(cur, i)
    if x ~= y then return x > y end
  end
  return #new > #cur
end
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if (not current) or at_least(ARGV[i], current) then redis.call('SET', key, ARGV[i], 'PX', ARGV[#ARGV]) end
end
return 0
"""
# Keys per command: bounded, so one call never blocks Redis for long.
_CHUNK = 500


class RedisNewestEvents:
    def __init__(self, client: Any):
        self._client = client
        self._advance = client.register_script(_ADVANCE)

    def newest(self, keys: Sequence[str]) -> list[str | None]:
        found: list[str | None] = []
        for start in range(0, len(keys), _CHUNK):
            for value in call(self._client.mget, list(keys[start:start + _CHUNK])):
                found.append(value.decode() if isinstance(value, bytes) else value)
        return found

    def advance(self, stamps: Mapping[str, str], ttl_seconds: float) -> None:
        ttl = max(1, int(ttl_seconds * 1000))
        items = list(stamps.items())
        for start in range(0, len(items), _CHUNK):
            chunk = items[start:start + _CHUNK]
            call(self._advance, keys=[k for k, _ in chunk], args=[*(s for _, s in chunk), ttl])
