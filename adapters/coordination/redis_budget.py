"""RedisBudgetCounters: the API budget governor's counters (core.budget.BudgetCounters) shared by every replica,
so that N replicas together stay inside an org's share of its daily allowance.

Per org (its instance URL hashed, core.coordination.org_key), four keys, each step one Lua script (atomic):
- `sfdest:budget:{<org>}` a hash {limit, used, aged_at, refused}: the allowance and the org's usage as
  Sforce-Limit-Info reported it plus sfdest's calls since, aged at the allowance's average rate (`aged_at`, Redis
  ms); a report is merged by taking the larger count (answers of every replica arrive out of order);
- `...:own` a hash {hour: calls}: sfdest's own calls over the rolling 24 hours, in hourly buckets;
- `...:held` a hash {holder: calls} and `...:lease` a sorted set {holder: expiry ms}: the calls reserved and not
  yet sent, per replica (holder). Each step of a holder renews its lease; a replica that died leaks nothing for
  longer than the lease: its reservations are dropped once it ran out;
- `...:asking` a short lease {holder} while one replica asks GET /limits for an allowance nobody knows yet (the
  Bulk API batch allowance's read takes the same lease: adapters.coordination.redis_batches).
Reservations are checked against the ceilings (the share, the reserve) in the same script that takes them, so
two replicas never promise the same call. Every key expires a day after the org's last step.
"""

from __future__ import annotations

import secrets
from typing import Any

from adapters.coordination.redis_leases import IN_TIME, call, check_in_time, not_after
from core.budget import WINDOW_SECONDS, BudgetState, Ceilings
from core.coordination import org_key

# Reads the org's counters into locals (dropping dead holders' reservations and own calls out of the window).
_LOAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local WINDOW, HOUR = tonumber(ARGV[1]), 3600000
local dead = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, holder in ipairs(dead) do redis.call('HDEL', KEYS[3], holder) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now) end
local reserved = 0
for _, n in ipairs(redis.call('HVALS', KEYS[3])) do reserved = reserved + tonumber(n) end
local own = 0
local buckets = redis.call('HGETALL', KEYS[2])
for i = 1, #buckets, 2 do
  if tonumber(buckets[i]) * HOUR <= now - WINDOW then redis.call('HDEL', KEYS[2], buckets[i])
  else own = own + tonumber(buckets[i + 1]) end
end
local s = redis.call('HMGET', KEYS[1], 'limit', 'used', 'aged_at', 'refused')
local limit, used = tonumber(s[1] or '0'), tonumber(s[2] or '0')
local aged_at, refused = tonumber(s[3] or now), tonumber(s[4] or '0')
if limit > 0 then
  local aged = math.floor((now - aged_at) * limit / WINDOW)
  if aged > 0 then
    used = math.max(0, used - aged)
    aged_at = aged_at + aged * WINDOW / limit
  end
end
local function hold(holder, calls)
  local before = tonumber(redis.call('HGET', KEYS[3], holder) or '0')
  local held = math.max(0, before + calls)
  reserved = reserved + held - before
  if held > 0 then
    redis.call('HSET', KEYS[3], holder, held)
    redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), holder)
  else
    redis.call('HDEL', KEYS[3], holder)
    redis.call('ZREM', KEYS[4], holder)
  end
end
local function observe(seen_used, seen_limit)
  if seen_limit <= 0 then return end
  if seen_limit ~= limit or seen_used > used then
    limit, used, aged_at = seen_limit, seen_used, now
  end
end
local function save()
  redis.call('HSET', KEYS[1], 'limit', string.format('%d', limit), 'used', string.format('%d', used),
             'aged_at', string.format('%.17g', aged_at), 'refused', string.format('%d', refused))
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], WINDOW + HOUR) end
  return {limit, used, own, reserved, refused}
end
"""
# ARGV: window ms, lease ms, holder, calls, own fraction, whole fraction, not after (ms)
_RESERVE = IN_TIME + _LOAD + """
local calls = tonumber(ARGV[4])
local fits = true
if limit > 0 then
  local own_ceiling = math.floor(limit * tonumber(ARGV[5]))
  local whole_ceiling = math.floor(limit * tonumber(ARGV[6]))
  fits = own + reserved + calls <= own_ceiling and used + reserved + calls <= whole_ceiling
end
if fits then hold(ARGV[3], calls) else refused = refused + calls end
local out = save()
table.insert(out, fits and 1 or 0)
return out
"""
# ARGV: window ms, lease ms, holder, calls, seen used, seen limit
_COMMIT = _LOAD + """
local calls = tonumber(ARGV[4])
hold(ARGV[3], -calls)
local hour = math.floor(now / HOUR)
redis.call('HINCRBY', KEYS[2], hour, calls)
own, used = own + calls, used + calls
observe(tonumber(ARGV[5]), tonumber(ARGV[6]))
return save()
"""
# ARGV: window ms, lease ms, holder, calls
_RELEASE = _LOAD + """
hold(ARGV[3], -tonumber(ARGV[4]))
return save()
"""
# ARGV: window ms, lease ms, holder, -, seen used, seen limit
_OBSERVE = _LOAD + """
observe(tonumber(ARGV[5]), tonumber(ARGV[6]))
return save()
"""
# ARGV: holder, lease ms, not after (ms)
_CLAIM = IN_TIME + """
if tonumber(redis.call('HGET', KEYS[1], 'limit') or '0') > 0 then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
# ARGV: holder (a compare-and-delete: the claim of another replica, granted once this one's expired, stays)
UNCLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
_STATE = _LOAD + """
return {limit, used, own, reserved, refused}
"""
_WINDOW_MS = int(WINDOW_SECONDS * 1000)


class RedisBudgetCounters:
    """`client` is a redis.Redis (or fakeredis) instance; `lease_seconds` bounds how long a reservation of this
    replica outlives it (at least the longest call: a reservation is held within one Apply)."""

    def __init__(self, client: Any, lease_seconds: float, command_seconds: float = 2.0):
        self._client = client
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._command_seconds = command_seconds
        self._holder = secrets.token_hex(8)  # this replica
        self._reserve = client.register_script(_RESERVE)
        self._commit = client.register_script(_COMMIT)
        self._release = client.register_script(_RELEASE)
        self._observe = client.register_script(_OBSERVE)
        self._state = client.register_script(_STATE)
        self._claim = client.register_script(_CLAIM)
        self._unclaim = client.register_script(UNCLAIM)

    def _run(self, script: Any, org: str, *args: Any) -> list[int]:
        base = _base(org)
        keys = [base, base + ":own", base + ":held", base + ":lease"]
        return check_in_time(call(script, keys=keys, args=[_WINDOW_MS, self._lease_ms, self._holder, *args]))

    def reserve(self, org: str, calls: int, ceilings: Ceilings) -> tuple[bool, BudgetState]:
        answer = self._run(self._reserve, org, calls, repr(ceilings.own), repr(ceilings.whole),
                           not_after(self._command_seconds))
        return bool(int(answer[5])), _state(answer)

    def commit(self, org: str, calls: int, usage: tuple[int, int] | None = None) -> BudgetState:
        used, limit = usage if usage is not None else (0, 0)
        return _state(self._run(self._commit, org, calls, used, limit))

    def release(self, org: str, calls: int) -> BudgetState:
        return _state(self._run(self._release, org, calls))

    def observe(self, org: str, used: int, limit: int) -> BudgetState:
        return _state(self._run(self._observe, org, 0, used, limit))

    def state(self, org: str) -> BudgetState:
        return _state(self._run(self._state, org))

    def claim_learning(self, org: str, seconds: float) -> bool:
        return claim_asking(self._claim, _base(org), org, self._holder, seconds, self._command_seconds)

    def end_learning(self, org: str) -> None:
        end_asking(self._unclaim, org, self._holder)


def _base(org: str) -> str:
    return "sfdest:budget:{" + org_key(org) + "}"  # one hash slot for every key of the org (Redis Cluster)


def claim_asking(script: Any, known: str, org: str, holder: str, seconds: float, command_seconds: float) -> bool:
    """Take the org's asking lease for `seconds` unless what the answer would tell (key `known`) is stored: the
    claim script checks both in one step."""
    answer = call(script, keys=[known, asking_key(org)],
                  args=[holder, max(1, int(seconds * 1000)), not_after(command_seconds)])
    return bool(int(check_in_time(answer)))


def end_asking(script: Any, org: str, holder: str) -> None:
    """Give the asking lease back if this holder still has it (the UNCLAIM script)."""
    call(script, keys=[asking_key(org)], args=[holder])


def asking_key(org: str) -> str:
    """The org's lease on asking GET /limits, held by one replica at a time: the governor's learning and the Bulk
    API batch allowance's reading share it (adapters.coordination.redis_batches), as one request tells both."""
    return _base(org) + ":asking"


def _state(answer: list[Any]) -> BudgetState:
    limit, used, own, reserved, refused = (int(v) for v in answer[:5])
    return BudgetState(limit=limit, org_used=used, own_used=own, reserved=reserved, refused=refused)
