"""RedisBulkBatches: each org's daily Bulk API batch allowance (core.budget.BulkBatchCounters) shared by every
replica, so that the jobs of one replica count in what the others weigh, and one replica asks GET /limits for it.

Per org (its instance URL hashed, core.coordination.org_key; the same hash slot as the org's budget keys), one
hash `sfdest:batches:{<org>}` {remaining, read_at}: the batches /limits reported at `read_at` (wall-clock ms), less
the batches of every replica's jobs since (HINCRBY, atomic). It expires `ttl_seconds` after that read (PEXPIREAT):
then the allowance is unknown and one replica reads it again, so other integrations' jobs show. A read older than
the one stored is ignored (answers of replicas arrive out of order). While nobody knows it, the replica that
claims the org's `asking` lease (adapters.coordination.redis_budget.asking_key: the governor's learning lease too,
since one request tells both) asks; the others wait for what it stores. Only numbers are stored.

Every command waits at most the client's socket timeout; past it (or with Redis down) a step raises
CoordinationUnavailable: the caller treats the allowance as unknown for that look (adapters.salesforce.bulk_batches
.OrgBatches) and asks no /limits.
"""

from __future__ import annotations

import secrets
from typing import Any

from adapters.coordination.redis_budget import UNCLAIM, claim_asking, end_asking
from adapters.coordination.redis_leases import IN_TIME, call
from core.coordination import org_key

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
# ARGV: remaining, read at (ms), ttl (ms)
_OBSERVE = _NOW + """
local read_at = tonumber(ARGV[2])
local expires = read_at + tonumber(ARGV[3])
if expires <= now then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'read_at') or '-1') > read_at then return 0 end
redis.call('HSET', KEYS[1], 'remaining', ARGV[1], 'read_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], expires)
return 1
"""
# ARGV: batches (HINCRBY keeps the key's expiry)
_CHARGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'remaining', -tonumber(ARGV[1]))
return 1
"""
# KEYS: the allowance, the org's asking lease; ARGV: holder, lease ms, not after (ms)
_CLAIM = IN_TIME + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
TTL_SECONDS = 3600.0


class RedisBulkBatches:
    """`client` is a redis.Redis (or fakeredis) instance; the allowance is read again `ttl_seconds` after a read."""

    def __init__(self, client: Any, ttl_seconds: float = TTL_SECONDS, command_seconds: float = 2.0):
        self._client = client
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._command_seconds = command_seconds
        self._holder = secrets.token_hex(8)  # this replica
        self._observe = client.register_script(_OBSERVE)
        self._charge = client.register_script(_CHARGE)
        self._claim = client.register_script(_CLAIM)
        self._unclaim = client.register_script(UNCLAIM)

    def observe(self, org: str, remaining: int, read_at: float) -> None:
        call(self._observe, keys=[_key(org)], args=[int(remaining), int(read_at * 1000), self._ttl_ms])

    def charge(self, org: str, batches: int) -> None:
        if batches > 0:
            call(self._charge, keys=[_key(org)], args=[int(batches)])

    def left(self, org: str) -> int | None:
        remaining = call(self._client.hget, _key(org), "remaining")
        return None if remaining is None else max(0, int(remaining))

    def claim_reading(self, org: str, seconds: float) -> bool:
        return claim_asking(self._claim, _key(org), org, self._holder, seconds, self._command_seconds)

    def end_reading(self, org: str) -> None:
        end_asking(self._unclaim, org, self._holder)


def _key(org: str) -> str:
    return "sfdest:batches:{" + org_key(org) + "}"  # the hash slot of the org's budget keys (Redis Cluster)
