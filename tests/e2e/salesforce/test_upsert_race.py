"""A concurrent writer's DUPLICATE_VALUE on an external-id upsert is resent once, as an update."""

from __future__ import annotations

import pytest

from core.model import Action, FieldMapping, Operation, ResultError, ValueSource
from core.service import ApplyService
from tests.builders import identify, matcher
from tests.e2e.salesforce.conftest import refresh_connection

ACTION = Action("Subscription__c", Operation.UPSERT, (matcher("External_Id__c", "properties.sub"),), None,
                (FieldMapping("Plan__c", ValueSource.of_path("properties.plan")),))


def event(event_id: str, sub: str, plan: str):
    e = identify(event_id)
    e.payload["properties"] = {"sub": sub, "plan": plan}
    return e


# The emulator answers DUPLICATE_VALUE as real orgs do: "fields": [], the field and the record holding the
# value named only in the message (or masked as <unknown>); see tests/adapters/salesforce/recorded_divergences.py.
@pytest.mark.parametrize("named", [True, False], ids=["named", "masked"])
def test_a_lost_upsert_race_is_retried_once_and_updates_the_winners_record(emulator, backend_factory, named):
    winner = emulator.org.seed("Subscription__c", {"External_Id__c": "RACE-1", "Plan__c": "basic"})
    said = f"External_Id__c duplicates value on record with id: {winner}" if named else \
        "<unknown> duplicates value on record with id: <unknown>"
    emulator.org.faults.add(ResultError("DUPLICATE_VALUE", f"duplicate value found: {said}"), value="RACE-1")
    service = ApplyService(backend_factory())
    [result] = service.apply(refresh_connection(emulator), ACTION, [event("e1", "RACE-1", "pro")]).results
    assert (result.status, result.record_id) == (200, winner)
    assert emulator.calls["collection_upsert"] == 2
    assert [r["Plan__c"] for r in emulator.org.records("Subscription__c")] == ["pro"]


def test_a_duplicate_on_another_field_is_not_retried_and_is_named(emulator, backend_factory):
    other = emulator.org.seed("Subscription__c", {"External_Id__c": "OTHER", "Name": "unique-plan"})
    emulator.org.faults.add(ResultError("DUPLICATE_VALUE", "duplicate value found: Name duplicates value on record "
                                        f"with id: {other}"), value="unique-plan")
    [result] = ApplyService(backend_factory()).apply(refresh_connection(emulator), ACTION,
                                                     [event("e1", "RACE-2", "unique-plan")]).results
    assert (result.status, result.error.code, result.error.fields) == (409, "DUPLICATE_VALUE", ("Name",))
    assert emulator.calls["collection_upsert"] == 1
