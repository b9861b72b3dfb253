"""Restricted picklists and multi-select picklists, the same over the memory org and the emulator."""

from __future__ import annotations

from core.model import Action, Event, FieldMapping, Operation, Outcome, RecordMatcher, Severity, ValueSource
from core.ports import FieldIn, Lookup
from core.service import ApplyService, ValidateService


def _action(*mappings: FieldMapping, operation: Operation = Operation.UPSERT) -> Action:
    matchers = () if operation is Operation.CREATE else (
        RecordMatcher("External_Id__c", ValueSource.of_path("properties.sub")),)
    return Action("Subscription__c", operation, matchers, None, (
        FieldMapping("Tier__c", ValueSource.of_path("properties.tier")),
        FieldMapping("Channels__c", ValueSource.of_path("properties.channels")),
        FieldMapping("Plan__c", ValueSource.of_path("properties.plan")), *mappings))


def _event(event_id: str, **properties) -> Event:
    return Event(event_id, {"type": "track", "properties": properties})


def _stored(backend, sub: str) -> dict:
    [row] = backend.store().find(Lookup("Subscription__c", ("Id", "Tier__c", "Channels__c"),
                                        ((FieldIn("External_Id__c", (sub,)),),)))
    return dict(row)


def test_a_bad_restricted_value_fails_alone_naming_field_value_and_allowed_values(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    events = [_event("ok1", sub="s1", tier="Gold"), _event("bad", sub="s2", tier="Diamond"),
              _event("inactive", sub="s3", tier="Legacy"), _event("ok2", sub="s4", tier="Bronze")]
    report = service.apply(conn, _action(), events)
    assert [r.status for r in report.results] == [201, 400, 400, 201]
    bad = report.results[1]
    assert bad.outcome is Outcome.INVALID and bad.error.code == "PICKLIST_VALUE_INVALID"
    assert bad.error.fields == ("Tier__c",)
    assert "'Diamond'" in bad.error.message and "Bronze, Silver, Gold" in bad.error.message
    assert "Legacy" not in bad.error.message  # inactive values are not allowed
    assert _stored(backend, "s1")["Tier__c"] == "Gold"


def test_a_multi_select_array_is_written_as_semicolon_separated_values(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    events = [_event("arr", sub="m1", channels=["Email", "Push"]), _event("text", sub="m2", channels="SMS;Email"),
              _event("bad", sub="m3", channels=["Email", "Fax"]), _event("semi", sub="m4", channels=["Email;SMS"])]
    results = service.apply(conn, _action(), events).results
    assert [r.status for r in results] == [201, 201, 400, 400]
    assert results[2].error.code == "PICKLIST_VALUE_INVALID" and "'Fax'" in results[2].error.message
    assert results[3].error.code == "MAPPING_VALUE_INVALID" and results[3].error.fields == ("Channels__c",)
    assert _stored(backend, "m1")["Channels__c"] == "Email;Push"
    assert _stored(backend, "m2")["Channels__c"] == "SMS;Email"


def test_dry_run_refuses_the_same_values_and_writes_nothing(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    events = [_event("ok", sub="d1", tier="Silver", channels=["SMS"]), _event("bad", sub="d2", tier="Platinum")]
    plan = service.apply(conn, _action(), events, dry_run=True).results
    assert [(r.status, r.outcome) for r in plan] == [(201, Outcome.WOULD_CREATE), (400, Outcome.INVALID)]
    assert plan[1].error.code == "PICKLIST_VALUE_INVALID"
    assert backend.store().find(Lookup("Subscription__c", ("Id",), ((FieldIn("External_Id__c", ("d1",)),),))) == []


def test_unrestricted_picklists_accept_new_values(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    action = Action("Lead", Operation.CREATE, (), None, (
        FieldMapping("LastName", ValueSource.of_literal("Ng")), FieldMapping("Company", ValueSource.of_literal("A")),
        FieldMapping("LeadSource", ValueSource.of_path("traits.source"))))
    [result] = service.apply(conn, action, [Event("e", {"traits": {"source": "Podcast"}})]).results
    assert result.status == 201


def test_the_org_itself_refuses_a_bad_restricted_value(backend):
    [outcome] = backend.store().create("Subscription__c", [{"Name": "x", "Tier__c": "Diamond"}])
    assert not outcome.success
    assert outcome.said.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert outcome.said.message == "Tier: bad value for restricted picklist field: Diamond"
    assert outcome.said.fields == ("Tier__c",)


def test_validate_checks_a_literal_and_sample_events_against_the_picklist(backend):
    conn = backend.connection_for("acme")
    action = Action("Subscription__c", Operation.CREATE, (), None, (
        FieldMapping("Tier__c", ValueSource.of_literal("Diamond")),
        FieldMapping("Channels__c", ValueSource.of_path("properties.channels"))))
    report = ValidateService(backend.factory).validate(
        action, conn, [_event("s", sub="v1", channels=["Email", "Carrier pigeon"])])
    problems = {(d.code, str(d.field_path)) for d in report.diagnostics if d.severity is Severity.ERROR}
    assert problems == {("PICKLIST_VALUE_INVALID", "action.field_mappings[0].value"),
                        ("PICKLIST_VALUE_INVALID", "sample_events[0]")}
    assert not report.valid
