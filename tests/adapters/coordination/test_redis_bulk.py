"""RedisBulkJobs (fakeredis): running Bulk API jobs shared by replicas, their rows sealed under the state key,
one owner at a time, forgotten once delivered."""

from __future__ import annotations

import fakeredis
import pytest

from adapters.coordination.local import LocalBulkJobs
from adapters.coordination.redis_bulk import RedisBulkJobs

KEY = "bulk-test-state-key-0123456789abcdef"
PAYLOAD = '{"rows": [["ann@example.com", "Ann"]]}'


@pytest.fixture
def client():
    return fakeredis.FakeRedis()


@pytest.fixture(params=["redis", "local"])
def jobs(request, client):
    return RedisBulkJobs(client, KEY) if request.param == "redis" else LocalBulkJobs()


def test_a_registered_job_is_found_by_its_events_and_its_payload_loads(jobs):
    jobs.register("j1", PAYLOAD, ["e1", "e2"], 60)
    assert jobs.find(["e1", "e3", "e2"]) == {"e1": "j1", "e2": "j1"}
    assert jobs.load("j1") == PAYLOAD


def test_one_owner_at_a_time_who_renews_until_it_lets_go(jobs):
    jobs.register("j1", PAYLOAD, ["e1"], 60)
    assert jobs.own("j1", "replica-a", 30)
    assert not jobs.own("j1", "replica-b", 30)
    assert jobs.own("j1", "replica-a", 30)  # a renewal
    jobs.disown("j1", "replica-b")  # not its lease: kept
    assert not jobs.own("j1", "replica-b", 30)
    jobs.disown("j1", "replica-a")
    assert jobs.own("j1", "replica-b", 30)


def test_an_expired_owner_lease_is_taken_over(client):
    jobs = RedisBulkJobs(client, KEY)
    jobs.register("j1", PAYLOAD, ["e1"], 60)
    assert jobs.own("j1", "dead-replica", 30)
    assert not jobs.own("j1", "replica-b", 30)  # held
    owners = client.keys("*:owner")
    assert owners  # (a 1 ms lease could already be gone here on a loaded machine, and delete() then has no key)
    client.delete(*owners)  # the lease ran out, without waiting for it
    assert jobs.own("j1", "replica-b", 30)


def test_a_forgotten_job_is_no_longer_found(jobs):
    jobs.register("j1", PAYLOAD, ["e1"], 60)
    jobs.forget(["j1"])
    assert jobs.find(["e1"]) == {} and jobs.load("j1") is None


def test_redis_holds_the_rows_sealed_and_another_state_key_cannot_open_them(client):
    RedisBulkJobs(client, KEY).register("j1", PAYLOAD, ["e1"], 60)
    stored = b"".join(client.get(k) or b"" for k in client.keys("*"))
    assert b"ann@example.com" not in stored and b"Ann" not in stored
    assert RedisBulkJobs(client, "another-state-key-0123456789abcdef").load("j1") is None
