"""RedisEventLedger: idempotency claims and recorded results shared by replicas (core.coordination.EventLedger).

A claim is `"pending|<ledger>|<deadline ms>"` set with NX and PX; a claim found PENDING for a ledger whose
heartbeat key `sfdest:replica:<ledger>` expired (its replica stopped) or whose deadline passed is taken over in
the same script. `sent` turns this ledger's PENDING claims into `"sent|<ledger>"` (a compare-and-set: a claim
taken over meanwhile stays the taker's). A record overwrites a claim with the encoded result for the window; a
release deletes a key only while it is still this ledger's claim. Each ledger renews its heartbeat from a
daemon thread every HEARTBEAT_SECONDS; it lapses HEARTBEAT_TTL_SECONDS after the replica stops.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from adapters.coordination.redis_leases import IN_TIME, call, check_in_time, not_after
from core.coordination import PENDING, SENT, CoordinationUnavailable

HEARTBEAT_SECONDS, HEARTBEAT_TTL_SECONDS = 1.0, 4.0
_ALIVE = "sfdest:replica:"

_CLAIM = IN_TIME + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  local take = not held
  if held then
    local owner, untl = string.match(held, '^pending|([^|]+)|(%d+)$')
    if owner and (tonumber(untl) < now or redis.call('EXISTS', ARGV[3] .. owner) == 0) then take = true end
  end
  if take then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = ''
  else
    out[i] = held
  end
end
return out
"""
_SENT = """
local out = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if held and string.sub(held, 1, #ARGV[1]) == ARGV[1] then
    redis.call('SET', key, ARGV[2], 'KEEPTTL')
    out[i] = 1
  elseif held == ARGV[2] then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if held and (string.sub(held, 1, #ARGV[1]) == ARGV[1] or held == ARGV[2]
               or (ARGV[3] == '1' and (string.sub(held, 1, 8) == 'pending|' or string.sub(held, 1, 5) == 'sent|'))) then
    redis.call('DEL', key)
  end
end
return 0
"""
# Keys per script call: bounded, so one call never blocks Redis for long.
_CHUNK = 500


class RedisEventLedger:
    def __init__(self, client: Any, command_seconds: float = 2.0):
        self._client = client
        self._command_seconds = command_seconds
        self.owner = secrets.token_hex(8)
        self._claim = client.register_script(_CLAIM)
        self._sent = client.register_script(_SENT)
        self._release = client.register_script(_RELEASE)
        self._mine, self._sent_mark = f"{PENDING}|{self.owner}|", f"{SENT}|{self.owner}"
        self._beating = threading.Event()
        self._closed = threading.Event()

    def claim(self, keys: Sequence[str], ttl_seconds: float, until: float) -> list[str | None]:
        self._start_heartbeat()
        ttl = max(1, int(ttl_seconds * 1000))
        value = f"{self._mine}{int(until * 1000)}"
        found: list[str | None] = []
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start:start + _CHUNK])
            answer = check_in_time(call(self._claim, keys=chunk, args=[
                value, ttl, _ALIVE, not_after(self._command_seconds)]))
            for item in answer:
                text = item.decode() if isinstance(item, bytes) else str(item)
                found.append(text or None)
        return found

    def sent(self, keys: Sequence[str]) -> list[bool]:
        marked: list[bool] = []
        for start in range(0, len(keys), _CHUNK):
            answer = call(self._sent, keys=list(keys[start:start + _CHUNK]), args=[self._mine, self._sent_mark])
            marked += [bool(int(x)) for x in answer]
        return marked

    def record(self, results: dict[str, str], ttl_seconds: float) -> None:
        ttl = max(1, int(ttl_seconds * 1000))
        items = list(results.items())
        for start in range(0, len(items), _CHUNK):
            pipe = self._client.pipeline(transaction=False)
            for key, value in items[start:start + _CHUNK]:
                pipe.set(key, value, px=ttl)
            call(pipe.execute)

    def release(self, keys: Sequence[str], force: bool = False) -> None:
        for start in range(0, len(keys), _CHUNK):
            call(self._release, keys=list(keys[start:start + _CHUNK]),
                 args=[self._mine, self._sent_mark, "1" if force else "0"])

    def close(self) -> None:
        self._closed.set()

    # The heartbeat: while it beats, this ledger's PENDING claims are not taken over ----------------------------
    def beat(self) -> None:
        call(self._client.set, _ALIVE + self.owner, "1", px=int(HEARTBEAT_TTL_SECONDS * 1000))

    def _start_heartbeat(self) -> None:
        if self._beating.is_set():
            return
        self._beating.set()
        self.beat()
        threading.Thread(target=_heartbeat, args=(weakref.ref(self), self._closed), name="sfdest-ledger-heartbeat",
                         daemon=True).start()


def _heartbeat(ledger: weakref.ref[RedisEventLedger], closed: threading.Event) -> None:
    """Beat while the ledger lives and is open (a ledger dropped without close stops beating too)."""
    while not closed.wait(HEARTBEAT_SECONDS):
        alive = ledger()
        if alive is None:
            return
        try:
            alive.beat()
        except CoordinationUnavailable:
            pass  # Redis away: our claims may be taken over once it lapses; `sent` then refuses them
        del alive
