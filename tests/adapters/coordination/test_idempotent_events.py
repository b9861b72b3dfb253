"""Idempotent events through ApplyService on a shared ledger (fakeredis; the replica suite uses a real Redis):
a repeated event answers its recorded result with no work, one whose earlier attempt did not settle answers
502 UNCERTAIN, one that invites a retry is worked again."""

from __future__ import annotations

import time

import fakeredis
import pytest

from adapters.coordination.local import LocalKeyLeases
from adapters.coordination.redis_events import RedisEventLedger
from adapters.memory.store import MemoryBackend
from core.coordination import PENDING, SENT
from core.idempotency import EventClaims, event_key
from core.model import Operation, Outcome, ResultError
from core.ports import WriteBatch
from core.service import ApplyService
from tests.builders import CONN, identify, lead_action

UPSERT = lead_action(Operation.UPSERT)


@pytest.fixture
def client():
    return fakeredis.FakeRedis()


def service(backend, client, window=3600.0):
    return ApplyService(backend, leases=LocalKeyLeases(), ledger=RedisEventLedger(client),
                        idempotency_window_seconds=window)


def batch():
    return [identify("e1", email="ann@example.com"), identify("e2", email="bob@example.com"),
            identify("e3", email="not-an-email")]


def test_the_same_batch_twice_answers_the_second_time_from_the_recorded_results(client):
    backend = MemoryBackend()
    first = service(backend, client).apply(CONN, UPSERT, batch())
    second = service(backend, client).apply(CONN, UPSERT, batch())  # another replica, same ledger
    assert [r.status for r in first.results] == [201, 201, 422]
    assert [(r.event_id, r.status, r.outcome, r.record_id) for r in second.results] == [
        (r.event_id, r.status, r.outcome, r.record_id) for r in first.results]
    assert second.api_calls == 0 and first.api_calls > 0
    assert "earlier attempt" in second.results[2].error.message
    stored = b"".join(client.get(k) or b"" for k in client.keys("*"))
    assert b"ann" not in stored and b"not-an-email" not in stored  # codes and ids, never event values


def test_another_action_or_org_is_worked_again(client):
    backend = MemoryBackend()
    service(backend, client).apply(CONN, UPSERT, batch()[:1])
    again = service(backend, client).apply(CONN, lead_action(Operation.UPDATE), batch()[:1])
    assert again.results[0].outcome is Outcome.UPDATED


def test_an_event_whose_earlier_attempt_did_not_settle_is_uncertain_and_not_written(client):
    client.set(event_key(CONN.instance_url, UPSERT, "e1"), f"{SENT}|dead-replica")  # a replica died mid-write
    backend = MemoryBackend()
    report = service(backend, client).apply(CONN, UPSERT, batch()[:2])
    assert [(r.status, r.outcome) for r in report.results] == [(502, Outcome.UNCERTAIN), (201, Outcome.CREATED)]
    assert report.results[0].error.code == "OUTCOME_UNKNOWN"


def test_a_result_inviting_a_retry_leaves_no_claim(client):
    backend = MemoryBackend()
    backend.tenant(CONN.instance_url).fail_calls(ResultError("SERVER_UNAVAILABLE", "down"), times=1)
    first = service(backend, client).apply(CONN, UPSERT, batch()[:1])
    assert first.results[0].retryable
    retried = service(backend, client).apply(CONN, UPSERT, batch()[:1])
    assert retried.results[0].status == 201  # worked again, not answered from a record


def test_a_window_of_zero_turns_it_off(client):
    backend = MemoryBackend()
    service(backend, client, window=0).apply(CONN, UPSERT, batch()[:1])
    again = service(backend, client, window=0).apply(CONN, UPSERT, batch()[:1])
    assert again.results[0].outcome is Outcome.UPDATED and again.api_calls > 0 and client.keys("*") == []


def _far(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


def test_an_event_whose_earlier_attempt_stopped_before_sending_it_is_taken_over_and_written(client):
    client.set(event_key(CONN.instance_url, UPSERT, "e1"), f"{PENDING}|dead-replica|{_far(600)}")  # no heartbeat
    report = service(MemoryBackend(), client).apply(CONN, UPSERT, batch()[:1])
    assert (report.results[0].status, report.results[0].outcome) == (201, Outcome.CREATED)


def test_a_running_attempt_keeps_its_unsent_events_until_its_deadline(client):
    alive = RedisEventLedger(client)
    alive.beat()
    key = event_key(CONN.instance_url, UPSERT, "e1")
    client.set(key, f"{PENDING}|{alive.owner}|{_far(600)}")
    backend = MemoryBackend()
    busy = service(backend, client).apply(CONN, UPSERT, batch()[:1]).results[0]
    client.set(key, f"{PENDING}|{alive.owner}|{_far(-1)}")  # its deadline passed: it can send nothing more
    late = service(backend, client).apply(CONN, UPSERT, batch()[:1]).results[0]
    assert (busy.status, busy.error.code, busy.retryable, busy.outcome) == (
        409, "EVENT_IN_PROGRESS", True, Outcome.NOT_ATTEMPTED)
    assert late.status == 201


def test_an_attempt_whose_event_was_taken_over_does_not_write_it(client):
    backend = MemoryBackend()
    claims = EventClaims(RedisEventLedger(client), CONN.instance_url, UPSERT, 3600)
    claims.claim(batch()[:2], time.time() + 60)
    keys = [event_key(CONN.instance_url, UPSERT, e.id) for e in batch()[:2]]
    client.set(keys[0], f"{PENDING}|another-replica|{_far(600)}")  # it took e1 over
    store = backend.open(CONN)
    store.guard_writes(claims.allow)
    [outcomes] = store.write("Lead", [WriteBatch("create", [{"LastName": "A", "Company": "X"},
                                                            {"LastName": "B", "Company": "X"}], "",
                                                 [(keys[0],), (keys[1],)])])
    assert [o.error.code if o.error else "written" for o in outcomes] == ["EVENT_TAKEN_OVER", "written"]
    assert [r["LastName"] for r in backend.tenant(CONN.instance_url).org.records("Lead")] == ["B"]
    assert client.get(keys[1]).decode().startswith(SENT)
