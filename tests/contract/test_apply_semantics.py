"""The semantics table on every backend: operation x number of matching records x matcher operator x missing values."""

from __future__ import annotations

import pytest

from core.model import FieldMapping, MatcherOperator, Operation, Outcome, ValueSource
from core.service import ApplyService
from tests.builders import LEAD_FIELDS, identify, lead_action, matcher


class Tenant:
    """One tenant of a backend, applying through the ApplyService."""

    def __init__(self, backend, name: str = "acme"):
        self.backend, self.service, self.conn = backend, ApplyService(backend.factory), backend.connection_for(name)

    def apply(self, action, events, **kw):
        return self.service.apply(self.conn, action, events, **kw)


@pytest.fixture
def service(backend) -> Tenant:
    return Tenant(backend)


def seed_leads(service, *emails: str) -> list[str]:
    """Create one Lead per email through the service itself; returns their ids."""
    events = [identify(f"seed-{i}", email=e, last_name=f"Seed{i}") for i, e in enumerate(emails)]
    report = service.apply(lead_action(Operation.CREATE), events)
    assert [r.status for r in report.results] == [201] * len(emails)
    return [r.record_id for r in report.results]


def apply_one(service, operation, event, **kw):
    report = service.apply(lead_action(operation, **kw), [event])
    assert len(report.results) == 1
    return report.results[0]


# (operation, records matching) -> (status, outcome)
SEMANTICS = [
    (Operation.UPDATE, 0, 404, Outcome.NOT_FOUND),
    (Operation.UPDATE, 1, 200, Outcome.UPDATED),
    (Operation.UPDATE, 2, 300, Outcome.AMBIGUOUS),
    (Operation.UPSERT, 0, 201, Outcome.CREATED),
    (Operation.UPSERT, 1, 200, Outcome.UPDATED),
    (Operation.UPSERT, 2, 300, Outcome.AMBIGUOUS),
    (Operation.DELETE, 0, 404, Outcome.NOT_FOUND),
    (Operation.DELETE, 1, 204, Outcome.DELETED),
    (Operation.DELETE, 2, 300, Outcome.AMBIGUOUS),
    (Operation.CREATE, 0, 201, Outcome.CREATED),
    (Operation.CREATE, 1, 201, Outcome.CREATED),
    (Operation.CREATE, 2, 201, Outcome.CREATED),
]


@pytest.mark.parametrize("operation,matching,status,outcome", SEMANTICS)
def test_semantics_table(service, operation, matching, status, outcome):
    seeded = seed_leads(service, *["ann@example.com"] * matching, "other@example.com")
    result = apply_one(service, operation, identify("e1", email="ANN@example.com", first_name="Ann"))
    assert (result.status, result.outcome) == (status, outcome)
    assert result.event_id == "e1"
    assert result.retryable is False
    if matching == 2 and operation is not Operation.CREATE:
        assert sorted(result.matched_ids) == sorted(seeded[:2])
        assert result.error.message.startswith("2 Lead records match this event; nothing was written")
    if matching == 1 and operation in (Operation.UPDATE, Operation.UPSERT, Operation.DELETE):
        assert result.record_id == seeded[0]


@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.UPSERT, Operation.DELETE])
def test_several_matches_write_nothing(service, operation):
    ids = seed_leads(service, "dup@example.com", "dup@example.com")
    apply_one(service, operation, identify("e1", email="dup@example.com", first_name="Changed"))
    check = service.apply(lead_action(Operation.UPDATE, matchers=(matcher("Id", "traits.id"),),
                                            mappings=()), [identify(f"c{i}", id=rid) for i, rid in enumerate(ids)])
    # Both records still exist (an update with nothing to write is a no-change on an existing record).
    assert [r.status for r in check.results] == [204, 204]


def test_update_changes_the_record_and_a_later_lookup_sees_it(service):
    seed_leads(service, "ann@example.com")
    apply_one(service, Operation.UPDATE, identify("e1", email="ann@example.com", first_name="Annabel"))
    by_name = apply_one(service, Operation.UPDATE, identify("e2", first_name="Annabel", email="x"),
                        matchers=(matcher("FirstName", "traits.first_name"),), mappings=())
    assert by_name.status == 204 and by_name.outcome is Outcome.NO_CHANGE


# Missing matcher values: (operator, traits present) -> status
MISSING = [
    (MatcherOperator.OR, {"email": "ann@example.com"}, 200),
    (MatcherOperator.OR, {"phone": "555"}, 200),
    (MatcherOperator.OR, {}, 400),
    (MatcherOperator.OR, {"email": None}, 400),
    (MatcherOperator.AND, {"email": "ann@example.com", "phone": "555"}, 200),
    (MatcherOperator.AND, {"email": "ann@example.com"}, 400),
    (MatcherOperator.AND, {"email": "ann@example.com", "phone": None}, 400),
    (None, {"phone": "555"}, 200),
]


@pytest.mark.parametrize("operator,traits,status", MISSING)
def test_missing_matcher_values(service, operator, traits, status):
    with_phone = LEAD_FIELDS + (FieldMapping("Phone", ValueSource.of_path("traits.phone")),)
    seeded = service.apply(lead_action(Operation.CREATE, mappings=with_phone),
                           [identify("s", email="ann@example.com", phone="555")])
    assert seeded.results[0].status == 201
    matchers = (matcher("Email", "traits.email"), matcher("Phone", "traits.phone"))
    event = identify("e1", **traits)
    result = apply_one(service, Operation.UPDATE, event, matchers=matchers, operator=operator)
    assert result.status == status
    if status == 400:
        assert result.outcome is Outcome.INVALID
        assert result.error.code == "MATCHER_VALUE_MISSING"
        assert "Email" in result.error.message or "Phone" in result.error.message


@pytest.mark.parametrize("value,kind", [({"a": 1}, "an object"), ([1, 2], "an array")])
def test_object_or_array_matcher_value_is_a_400_naming_the_matcher(service, value, kind):
    result = apply_one(service, Operation.UPSERT, identify("e1", email=value))
    assert result.status == 400
    assert result.error.code == "MATCHER_VALUE_INVALID"
    assert "action.record_matchers[0] (Email)" in result.error.message
    assert kind in result.error.message
    assert result.error.fields == ("Email",)


def test_id_matcher_updates_without_a_lookup(service):
    (rid,) = seed_leads(service, "ann@example.com")
    report = service.apply(lead_action(Operation.UPDATE, matchers=(matcher("Id", "traits.id"),)),
                           [identify("e1", id=rid, first_name="Direct")])
    assert report.results[0].status == 200
    assert report.results[0].record_id == rid
    assert report.api_calls == 1  # one collection update; describe is cached; no query


def test_15_character_id_addresses_the_same_record(service):
    (rid,) = seed_leads(service, "ann@example.com")
    result = apply_one(service, Operation.DELETE, identify("e1", id=rid[:15]), matchers=(matcher("Id", "traits.id"),))
    assert (result.status, result.record_id) == (204, rid)


@pytest.mark.parametrize("bad", ["00Q123", "00QHs00000LmNoPMAX", "not an id at all", "001Hs00000LmNoPMAV"])
def test_malformed_or_foreign_id_is_a_400(service, bad):
    result = apply_one(service, Operation.UPDATE, identify("e1", id=bad), matchers=(matcher("Id", "traits.id"),))
    assert result.status == 400
    assert result.error.code == "INVALID_ID"


def test_update_by_unknown_id_is_not_found(service):
    (rid,) = seed_leads(service, "ann@example.com")
    apply_one(service, Operation.DELETE, identify("d", id=rid), matchers=(matcher("Id", "traits.id"),))
    result = apply_one(service, Operation.UPDATE, identify("e1", id=rid, first_name="x"),
                       matchers=(matcher("Id", "traits.id"),))
    assert (result.status, result.outcome, result.retryable) == (404, Outcome.NOT_FOUND, False)


def test_one_bad_event_never_fails_its_neighbours(service):
    seed_leads(service, "a@example.com", "b@example.com")
    events = [
        identify("ok1", email="a@example.com", first_name="A"),
        identify("bad", email={"nested": True}),
        identify("ok2", email="b@example.com", first_name="B"),
        identify("toolong", email="c@example.com", last_name="x" * 81),
        identify("new", email="d@example.com"),
    ]
    report = service.apply(lead_action(Operation.UPSERT), events)
    assert [r.event_id for r in report.results] == ["ok1", "bad", "ok2", "toolong", "new"]
    assert [r.status for r in report.results] == [200, 400, 200, 422, 201]
    assert report.results[3].error.code == "STRING_TOO_LONG"


def test_create_without_required_value_is_a_400_naming_the_field(service):
    event = identify("e1", email="x@example.com")
    del event.payload["traits"]["last_name"]
    result = apply_one(service, Operation.CREATE, event)
    assert result.status == 400
    assert result.error.code == "REQUIRED_VALUE_MISSING"
    assert result.error.fields == ("LastName",)
    assert "traits.last_name" in result.error.message


def test_dry_run_plans_without_writing(service):
    (rid,) = seed_leads(service, "ann@example.com")
    seed_leads(service, "dup@example.com", "dup@example.com")
    events = [identify("u", email="ann@example.com", first_name="X"), identify("n", email="new@example.com"),
              identify("d", email="dup@example.com")]
    report = service.apply(lead_action(Operation.UPSERT), events, dry_run=True)
    assert [(r.status, r.outcome) for r in report.results] == [
        (200, Outcome.WOULD_UPDATE), (201, Outcome.WOULD_CREATE), (300, Outcome.AMBIGUOUS)]
    assert report.results[0].record_id == rid
    again = service.apply(lead_action(Operation.UPDATE), [identify("n2", email="new@example.com")])
    assert again.results[0].status == 404  # the dry run created nothing


def test_tenants_never_see_each_others_records(service):
    seed_leads(service, "ann@example.com")
    other = Tenant(service.backend, "globex")
    result = other.apply(lead_action(Operation.UPDATE), [identify("e1", email="ann@example.com")])
    assert result.results[0].status == 404
