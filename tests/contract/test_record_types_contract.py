"""Record types by DeveloperName, the same over the memory org and the emulator."""

from __future__ import annotations

import pytest

from adapters.memory.org_options import OrgOptions, RecordTypeSpec
from core.model import Action, Event, FieldMapping, Operation, Outcome, RecordMatcher, Severity, ValueSource
from core.ports import FieldIn, Lookup
from core.service import ApplyService, ValidateService


@pytest.fixture
def org_options() -> OrgOptions:
    return OrgOptions(record_types=(
        RecordTypeSpec("Subscription__c", "Basic", picklists=(("Tier__c", ("Bronze", "Silver")),)),
        RecordTypeSpec("Subscription__c", "Premium"),
        RecordTypeSpec("Subscription__c", "Retired", active=False)))


def _action(record_type: str, operation: Operation = Operation.CREATE, matcher: str = "Name") -> Action:
    matchers = () if operation is Operation.CREATE else (RecordMatcher(matcher, ValueSource.of_path("properties.name")),)
    return Action("Subscription__c", operation, matchers, None, (
        FieldMapping("Name", ValueSource.of_path("properties.name")),
        FieldMapping("Tier__c", ValueSource.of_path("properties.tier"))), record_type=record_type)


def _event(event_id: str, name: str, tier: str) -> Event:
    return Event(event_id, {"properties": {"name": name, "tier": tier}})


def _record_type_of(backend, name: str) -> tuple[str, str]:
    [row] = backend.store().find(Lookup("Subscription__c", ("Id", "RecordTypeId", "Tier__c"),
                                        ((FieldIn("Name", (name,)),),)))
    return row["RecordTypeId"], row["Tier__c"]


def _ids(backend) -> dict[str, str]:
    rows = backend.store().find(Lookup("RecordType", ("Id", "DeveloperName"),
                                       ((FieldIn("SobjectType", ("Subscription__c",)),),)))
    return {r["DeveloperName"]: r["Id"] for r in rows}


def test_a_create_gets_the_record_type_and_its_picklist_values_are_checked(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    report = service.apply(conn, _action("basic"), [_event("a", "S-1", "Silver"), _event("b", "S-2", "Gold")])
    assert [r.status for r in report.results] == [201, 400]
    bad = report.results[1].error
    assert bad.code == "PICKLIST_VALUE_INVALID" and "'Gold'" in bad.message and "Bronze, Silver" in bad.message
    assert _record_type_of(backend, "S-1") == (_ids(backend)["Basic"], "Silver")
    assert report.api_calls == 3  # describe, record types (one describe-layouts call), one create
    again = service.apply(conn, _action("Basic"), [_event("c", "S-3", "Bronze")])
    assert again.api_calls == 1  # describe and record types are cached per org and object


def test_an_update_leaves_the_records_type_alone(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    service.apply(conn, _action("Premium"), [_event("a", "S-1", "Gold")])
    [updated] = service.apply(conn, _action("Basic", Operation.UPSERT), [_event("b", "S-1", "Bronze")]).results
    assert updated.status == 200
    assert _record_type_of(backend, "S-1") == (_ids(backend)["Premium"], "Bronze")
    [created] = service.apply(conn, _action("Basic", Operation.UPSERT), [_event("c", "S-2", "Bronze")]).results
    assert created.status == 201 and _record_type_of(backend, "S-2")[0] == _ids(backend)["Basic"]


def test_an_external_id_upsert_with_a_record_type_types_only_what_it_creates(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    service.apply(conn, _action("Premium"), [_event("a", "S-1", "Gold")])
    backend.store().update("Subscription__c", [(service_id(backend, "S-1"), {"External_Id__c": "X-1"})])
    action = Action("Subscription__c", Operation.UPSERT, (RecordMatcher("External_Id__c",
                                                                        ValueSource.of_path("properties.key")),),
                    None, (FieldMapping("Name", ValueSource.of_path("properties.name")),), record_type="Basic")
    results = service.apply(conn, action, [Event("u", {"properties": {"key": "X-1", "name": "S-1"}}),
                                           Event("c", {"properties": {"key": "X-2", "name": "S-2"}})]).results
    assert [r.status for r in results] == [200, 201]
    assert _record_type_of(backend, "S-1")[0] == _ids(backend)["Premium"]
    assert _record_type_of(backend, "S-2")[0] == _ids(backend)["Basic"]


def service_id(backend, name: str) -> str:
    [row] = backend.store().find(Lookup("Subscription__c", ("Id",), ((FieldIn("Name", (name,)),),)))
    return row["Id"]


def test_validate_and_apply_refuse_an_unknown_or_inactive_record_type(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    for name in ("Retired", "Nope"):
        report = ValidateService(backend.factory).validate(_action(name), conn)
        [problem] = report.errors
        assert (problem.code, str(problem.field_path)) == ("RECORD_TYPE_NOT_FOUND", "action.record_type")
        assert "Basic, Premium" in problem.message
        [result] = service.apply(conn, _action(name), [_event("a", "S-1", "Bronze")]).results
        assert (result.status, result.outcome, result.error.code) == (400, Outcome.INVALID, "INVALID_ACTION")
    lead = Action("Lead", Operation.CREATE, (), None, (), record_type="Partner")
    codes = {d.code for d in ValidateService(backend.factory).validate(lead, conn).diagnostics
             if d.severity is Severity.ERROR}
    assert "RECORD_TYPE_NOT_FOUND" in codes


def test_dry_run_and_sample_events_use_the_record_types_values(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    plan = service.apply(conn, _action("Basic"), [_event("a", "S-1", "Bronze"), _event("b", "S-2", "Gold")],
                         dry_run=True).results
    assert [(r.status, r.outcome) for r in plan] == [(201, Outcome.WOULD_CREATE), (400, Outcome.INVALID)]
    report = ValidateService(backend.factory).validate(_action("Basic"), conn, [_event("s", "S-9", "Gold")])
    assert [(d.code, str(d.field_path)) for d in report.errors] == [("PICKLIST_VALUE_INVALID", "sample_events[0]")]


def test_the_org_refuses_a_value_its_record_type_does_not_allow(backend):
    basic = _ids(backend)["Basic"]
    [outcome] = backend.store().create("Subscription__c", [{"Name": "x", "Tier__c": "Gold", "RecordTypeId": basic}])
    assert outcome.said.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"



def test_an_update_is_checked_against_the_records_own_type_and_a_create_against_the_actions(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    service.apply(conn, _action("Premium"), [_event("a", "S-1", "Silver")])
    results = service.apply(conn, _action("Basic", Operation.UPSERT), [
        _event("u", "S-1", "Gold"),  # S-1 is Premium: Gold is allowed, though Basic would not allow it
        _event("c", "S-2", "Gold")]).results  # S-2 is created as Basic: Gold is refused before sending
    assert [r.status for r in results] == [200, 400]
    assert results[1].error.code == "PICKLIST_VALUE_INVALID" and "Bronze, Silver" in results[1].error.message
    assert _record_type_of(backend, "S-1") == (_ids(backend)["Premium"], "Gold")
    plan = service.apply(conn, _action("Basic", Operation.UPSERT), [_event("d", "S-3", "Gold")], dry_run=True)
    assert plan.results[0].status == 400
