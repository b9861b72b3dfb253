"""RedisBulkJobs: running Bulk API jobs shared by replicas (core.coordination.BulkJobs), sealed at rest.

A job is `sfdest:bulkjob:<key>` -> its payload, zlib-compressed then sealed with AES-256-GCM under
SFDEST_STATE_KEY (redis_tokens.Sealer; the Redis key is the associated data): the payload holds the uploaded
rows, so Redis never holds a customer value in the clear. Each event of the job has `sfdest:bulkevent:<event
key>` -> the job key (event keys are hashes already). The owner lease is `sfdest:bulkjob:<key>:owner` ->
holder, taken with NX and renewed by its holder (one script), so a dead owner's job is free within a lease.
Everything expires with the idempotency window.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from adapters.coordination.redis_leases import call
from adapters.coordination.redis_tokens import Sealer

_JOB, _EVENT = "sfdest:bulkjob:", "sfdest:bulkevent:"
_OWN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_DISOWN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_CHUNK = 500  # keys per pipeline or command: one call never blocks Redis for long


class RedisBulkJobs:
    def __init__(self, client: Any, state_key: str):
        self._client = client
        self._sealer = Sealer(state_key)
        self._own = client.register_script(_OWN)
        self._disown = client.register_script(_DISOWN)

    def register(self, job_key: str, payload: str, event_keys: Sequence[str], ttl_seconds: float) -> None:
        ttl = max(1, int(ttl_seconds * 1000))
        where = _JOB + job_key
        call(self._client.set, where, self._sealer.seal_bytes(zlib.compress(payload.encode(), 6), where), px=ttl)
        for start in range(0, len(event_keys), _CHUNK):
            pipe = self._client.pipeline(transaction=False)
            for key in event_keys[start:start + _CHUNK]:
                pipe.set(_EVENT + key, job_key, px=ttl)
            call(pipe.execute)

    def find(self, event_keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(event_keys), _CHUNK):
            chunk = list(event_keys[start:start + _CHUNK])
            for key, job in zip(chunk, call(self._client.mget, [_EVENT + k for k in chunk]), strict=True):
                if job is not None:
                    found[key] = job.decode() if isinstance(job, bytes) else str(job)
        jobs = sorted(set(found.values()))
        alive = {job for job, n in zip(jobs, [call(self._client.exists, _JOB + j) for j in jobs], strict=True) if n}
        return {key: job for key, job in found.items() if job in alive}

    def load(self, job_key: str) -> str | None:
        where = _JOB + job_key
        sealed = call(self._client.get, where)
        opened = self._sealer.open_bytes(sealed, where) if sealed else None
        return zlib.decompress(opened).decode() if opened is not None else None

    def own(self, job_key: str, holder: str, ttl_seconds: float) -> bool:
        return bool(call(self._own, keys=[f"{_JOB}{job_key}:owner"], args=[holder, max(1, int(ttl_seconds * 1000))]))

    def disown(self, job_key: str, holder: str) -> None:
        call(self._disown, keys=[f"{_JOB}{job_key}:owner"], args=[holder])

    def forget(self, job_keys: Sequence[str]) -> None:
        if job_keys:
            call(self._client.delete, *[k for job in job_keys for k in (_JOB + job, f"{_JOB}{job}:owner")])
