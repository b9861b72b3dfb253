"""Inside one batch: same-record events in order, one record per new key, batch equals one-by-one."""

from __future__ import annotations

import random

import pytest

from adapters.memory.store import MemoryBackend
from core.model import Action, Connection, FieldMapping, MatcherOperator, Operation, ValueSource
from core.service import ApplyService
from tests.builders import CONN, identify, lead_action, matcher


@pytest.fixture
def service():
    return ApplyService(MemoryBackend())


def first_names(service, conn, emails):
    """Read back FirstName per email (an update with a FirstName matcher would be circular: use dry-run ids)."""
    action = lead_action(Operation.UPDATE, mappings=())
    return [r.record_id for r in service.apply(conn, action, [identify(e, email=e) for e in emails]).results]


def test_events_for_the_same_record_apply_in_order_and_the_later_value_wins(service):
    service.apply(CONN, lead_action(Operation.CREATE), [identify("s", email="ann@example.com")])
    events = [identify("e1", email="ann@example.com", first_name="First"),
              identify("e2", email="ANN@example.com", first_name="Second")]
    report = service.apply(CONN, lead_action(Operation.UPSERT), events)
    assert [r.status for r in report.results] == [200, 200]
    assert report.results[0].record_id == report.results[1].record_id
    check = service.apply(CONN, lead_action(Operation.UPDATE, matchers=(matcher("FirstName", "traits.first_name"),),
                                            mappings=()), [identify("c1", first_name="Second"),
                                                           identify("c2", first_name="First")])
    assert [r.status for r in check.results] == [204, 404]


def test_two_upserts_for_the_same_new_key_create_one_record(service):
    events = [identify("e1", email="new@example.com", first_name="A"),
              identify("e2", email="New@Example.com", first_name="B")]
    report = service.apply(CONN, lead_action(Operation.UPSERT), events)
    assert [r.status for r in report.results] == [201, 200]
    assert report.results[0].record_id == report.results[1].record_id != ""
    again = service.apply(CONN, lead_action(Operation.UPDATE), [identify("c", email="new@example.com")])
    assert again.results[0].status == 200  # exactly one record: not 300


def test_upserts_on_an_external_id_for_the_same_new_key_create_one_record(service):
    action = Action("Subscription__c", Operation.UPSERT, (matcher("External_Id__c", "properties.sub_id"),), None,
                    (FieldMapping("Plan__c", ValueSource.of_path("properties.plan")),))
    events = [identify(f"e{i}") for i in range(3)]
    for i, e in enumerate(events):
        e.payload["properties"] = {"sub_id": "SUB-1" if i < 2 else "sub-1", "plan": f"plan{i}"}
    report = service.apply(CONN, action, events)
    assert [r.status for r in report.results] == [201, 200, 200]
    assert len({r.record_id for r in report.results}) == 1


def test_delete_then_update_of_the_same_record_in_one_batch_is_not_found(service):
    service.apply(CONN, lead_action(Operation.CREATE), [identify("s", email="ann@example.com")])
    deleted = service.apply(CONN, lead_action(Operation.DELETE), [identify("d1", email="ann@example.com"),
                                                                   identify("d2", email="ann@example.com")])
    assert [r.status for r in deleted.results] == [204, 404]


def one_by_one(service, conn, action, events):
    return [service.apply(conn, action, [e]).results[0] for e in events]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.UPSERT, Operation.DELETE])
@pytest.mark.parametrize("operator", [MatcherOperator.OR, MatcherOperator.AND])
def test_the_batch_path_gives_what_one_event_at_a_time_gives(operation, operator, seed):
    rng = random.Random(seed)
    emails = [f"p{i}@example.com" for i in range(6)]
    phones = ["1", "2", "3"]
    with_phone = lead_action(Operation.CREATE).field_mappings + (FieldMapping("Phone", ValueSource.of_path(
        "traits.phone")),)
    seed_events = [identify(f"s{i}", email=rng.choice(emails).upper() if rng.random() < .3 else rng.choice(emails),
                            phone=rng.choice(phones)) for i in range(8)]
    events = []
    for i in range(30):
        traits = {"first_name": f"n{i}"}
        if rng.random() < 0.9:
            traits["email"] = rng.choice(emails + ["nobody@example.com"])
        if rng.random() < 0.6:
            traits["phone"] = rng.choice(phones + ["9"])
        events.append(identify(f"e{i}", **traits))
    action = lead_action(operation, matchers=(matcher("Email", "traits.email"), matcher("Phone", "traits.phone")),
                         operator=operator, mappings=with_phone)
    outcomes = []
    for batched in (True, False):
        backend = MemoryBackend()
        svc = ApplyService(backend)
        conn = Connection(f"https://t{seed}.my.salesforce.com")
        svc.apply(conn, lead_action(Operation.CREATE, mappings=with_phone), seed_events)
        results = svc.apply(conn, action, events).results if batched else one_by_one(svc, conn, action, events)
        outcomes.append([(r.status, r.outcome, r.error.code if r.error else "", len(r.matched_ids)) for r in results])
    assert outcomes[0] == outcomes[1]


class _MeetingStore:
    """A store whose create and update calls must be in flight together to get past the barrier."""

    def __init__(self, inner, barrier):
        self._inner, self._barrier = inner, barrier

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def create(self, object_name, records):
        self._barrier.wait()
        return self._inner.create(object_name, records)

    def update(self, object_name, records):
        self._barrier.wait()
        return self._inner.update(object_name, records)


def test_creates_and_updates_of_one_round_are_sent_at_the_same_time():
    import threading

    backend = MemoryBackend()
    ApplyService(backend).apply(CONN, lead_action(Operation.CREATE), [identify("s", email="old@example.com")])
    barrier = threading.Barrier(2, timeout=10)  # a safety net: sequential calls break it instead of hanging

    class Meeting:
        def open(self, connection, deadline=None, stop=None):
            return _MeetingStore(backend.open(connection, deadline, stop), barrier)

    report = ApplyService(Meeting()).apply(CONN, lead_action(Operation.UPSERT), [
        identify("u", email="old@example.com", first_name="Old"), identify("c", email="new@example.com")])
    assert [r.status for r in report.results] == [200, 201]
