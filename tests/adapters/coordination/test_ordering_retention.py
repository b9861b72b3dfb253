"""SFDEST_ORDERING_RETENTION_SECONDS: how long newest_event_wins keeps a record's stamp, in the process (a fake
clock) and in Redis (fakeredis: the stamp's TTL)."""

from __future__ import annotations

from dataclasses import replace

import fakeredis

from adapters.coordination.local import LocalKeyLeases, LocalNewestEvents
from adapters.coordination.redis_leases import RedisKeyLeases
from adapters.coordination.redis_ordering import RedisNewestEvents
from adapters.memory.store import MemoryBackend
from core.model import Event, Operation, Outcome
from core.ordering import STAMP_TTL_SECONDS
from core.service import ApplyService
from server.config import Settings
from tests.builders import CONN, identify, lead_action

NS = 1_000_000_000
UPSERT = replace(lead_action(Operation.UPSERT), newest_event_wins=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(event_id: str, name: str, at_seconds: int) -> Event:
    return replace(identify(event_id, email="ann@example.com", last_name=name), timestamp_ns=at_seconds * NS)


def test_in_process_an_older_event_is_skipped_within_the_retention_and_written_after_it():
    clock = Clock()
    service = ApplyService(MemoryBackend(), LocalKeyLeases(clock), newest=LocalNewestEvents(clock),
                           ordering_retention_seconds=60)
    assert service.apply(CONN, UPSERT, [event("new", "Newest", 20)]).results[0].status == 201
    clock.now += 59
    [late] = service.apply(CONN, UPSERT, [event("old", "Older", 10)]).results
    assert (late.outcome, late.winning_event_id) == (Outcome.STALE_SKIPPED, "new")
    clock.now += 2  # the stamp was kept 60 s after its last write
    [after] = service.apply(CONN, UPSERT, [event("old", "Older", 10)]).results
    assert (after.status, after.outcome) == (200, Outcome.UPDATED)


def test_in_redis_a_stamp_expires_after_the_retention():
    client = fakeredis.FakeRedis()
    service = ApplyService(MemoryBackend(), RedisKeyLeases(client), newest=RedisNewestEvents(client),
                           ordering_retention_seconds=3600)
    assert service.apply(CONN, UPSERT, [event("new", "Newest", 20)]).results[0].status == 201
    [stamp] = client.keys("sfdest:newest:*")
    assert 3_500_000 < client.pttl(stamp) <= 3_600_000
    client.flushall()
    default = ApplyService(MemoryBackend(), RedisKeyLeases(client), newest=RedisNewestEvents(client))
    default.apply(CONN, UPSERT, [event("new", "Newest", 20)])
    [stamp] = client.keys("sfdest:newest:*")
    assert STAMP_TTL_SECONDS * 1000 - 100_000 < client.pttl(stamp) <= STAMP_TTL_SECONDS * 1000


def test_the_setting_defaults_to_30_days():
    assert Settings.from_env({}).ordering_retention_seconds == 30 * 86_400 == STAMP_TTL_SECONDS
    assert Settings.from_env({"SFDEST_ORDERING_RETENTION_SECONDS": "3600"}).ordering_retention_seconds == 3600
