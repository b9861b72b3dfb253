"""Inside one batch, on every backend: same-record events in order, one record per new key, batch equals
one-by-one, and a round's creates and updates sent together."""

from __future__ import annotations

import random

import pytest

from core.model import FieldMapping, MatcherOperator, Operation
from core.service import ApplyService
from tests.builders import SUB, identify, lead, lead_action, matcher, path, person, subscription_upsert, track
from tests.contract.test_converted_leads import org_of

WITH_BULK = pytest.mark.parametrize("backend", ["memory", "salesforce", "salesforce_bulk"], indirect=True)


def _queries(backend) -> int | None:
    """Queries the org answered (the Salesforce backend's emulator counts them; the memory org does not)."""
    return backend.emulators["acme"].calls["query"] if backend.emulators else None


def test_events_for_the_same_record_apply_in_order_and_the_later_value_wins(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    rid = org_of(backend).seed("Lead", {"LastName": "Ng", "Company": "Acme", "Email": "ann@example.com"})
    events = [person("e1", "ann@example.com", title="First", phone="1", first_name="First"),
              person("e2", "ANN@example.com", title="Second", first_name="Second"),
              person("e3", "ann@example.com", first_name="Ann")]
    report = service.apply(conn, lead(Operation.UPSERT), events)
    assert [(r.status, r.record_id) for r in report.results] == [(200, rid)] * 3
    record = org_of(backend).get("Lead", rid)
    assert (record["Title"], record["Phone"], record["FirstName"]) == ("Second", "1", "Ann")
    assert _queries(backend) in (None, 1)
    check = service.apply(conn, lead_action(Operation.UPDATE, matchers=(matcher("FirstName", "traits.first_name"),),
                                            mappings=()), [identify("c1", first_name="Ann"),
                                                           identify("c2", first_name="First")])
    assert [r.status for r in check.results] == [204, 404]


@WITH_BULK
def test_two_upserts_for_the_same_new_email_create_one_record(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    events = [person("e1", "new@example.com", title="A"), person("e2", "New@Example.com", phone="9")]
    report = service.apply(conn, lead(Operation.UPSERT), events)
    assert [r.status for r in report.results] == [201, 200]
    assert report.results[0].record_id == report.results[1].record_id != ""
    [record] = [r for r in org_of(backend).records("Lead") if (r["Email"] or "").lower() == "new@example.com"]
    assert (record["Title"], record["Phone"]) == ("A", "9")
    again = service.apply(conn, lead_action(Operation.UPDATE), [identify("c", email="new@example.com")])
    assert again.results[0].status == 200  # exactly one record: not 300


@WITH_BULK
def test_upserts_on_an_external_id_for_the_same_new_key_create_one_record(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    events = [track("e1", sub_id="S-1", plan="a"), track("e2", sub_id="S-1", plan="b"),
              track("e3", sub_id="s-1", plan="c"), track("e4", sub_id="S-2")]
    report = service.apply(conn, subscription_upsert(), events)
    assert [r.status for r in report.results] == [201, 200, 200, 201]
    assert len({r.record_id for r in report.results[:3]}) == 1
    assert report.results[0].record_id != report.results[3].record_id
    assert org_of(backend).get(SUB, report.results[0].record_id)["Plan__c"] == "c"


def test_delete_then_update_of_the_same_record_in_one_batch_is_not_found(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    service.apply(conn, lead_action(Operation.CREATE), [identify("s", email="ann@example.com")])
    deleted = service.apply(conn, lead_action(Operation.DELETE), [identify("d1", email="ann@example.com"),
                                                                   identify("d2", email="ann@example.com")])
    assert [r.status for r in deleted.results] == [204, 404]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.UPSERT, Operation.DELETE])
@pytest.mark.parametrize("operator", [MatcherOperator.OR, MatcherOperator.AND])
def test_the_batch_path_gives_what_one_event_at_a_time_gives(backend, operation, operator, seed):
    rng = random.Random(seed)
    emails = [f"p{i}@example.com" for i in range(6)]
    phones = ["1", "2", "3"]
    with_phone = lead_action(Operation.CREATE).field_mappings + (FieldMapping("Phone", path("traits.phone")),)
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
    service = ApplyService(backend.factory)
    outcomes = []
    for tenant in ("batch", "one-by-one"):
        conn = backend.connection_for(tenant)
        service.apply(conn, lead_action(Operation.CREATE, mappings=with_phone), seed_events)
        results = (service.apply(conn, action, events).results if tenant == "batch"
                   else [service.apply(conn, action, [e]).results[0] for e in events])
        outcomes.append([(r.status, r.outcome, r.error.code if r.error else "", len(r.matched_ids)) for r in results])
    assert outcomes[0] == outcomes[1]


class _RecordingStore:
    """A store that notes the (object, kind) of every batch of each write_batches call it is handed."""

    def __init__(self, inner, calls):
        self._inner, self._calls = inner, calls

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def write_batches(self, batches):
        self._calls.append([(b.object_name, b.kind) for b in batches])
        return self._inner.write_batches(batches)


def test_creates_and_updates_of_one_round_are_handed_to_the_store_together(backend):
    conn = backend.connection_for("acme")
    ApplyService(backend.factory).apply(conn, lead_action(Operation.CREATE), [identify("s", email="old@example.com")])
    calls: list = []

    class Recording:
        def open(self, connection, deadline=None, stop=None):
            return _RecordingStore(backend.factory.open(connection, deadline, stop), calls)

    report = ApplyService(Recording()).apply(conn, lead_action(Operation.UPSERT), [
        identify("u", email="old@example.com", first_name="Old"), identify("c", email="new@example.com")])
    assert [r.status for r in report.results] == [200, 201]
    assert calls == [[("Lead", "update"), ("Lead", "create")]]  # one round, one store call: the store runs it
