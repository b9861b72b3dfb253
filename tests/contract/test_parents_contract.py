"""Parent records by a stable key (relationship references), the same over the memory org and the emulator."""

from __future__ import annotations

import pytest

from adapters.memory.org_options import OrgOptions
from core.model import (
    Action,
    Event,
    FieldMapping,
    Operation,
    Outcome,
    ParentKey,
    RecordMatcher,
    Severity,
    ValueSource,
)
from core.ports import FieldIn, Lookup
from core.service import ApplyService, ValidateService


@pytest.fixture
def org_options() -> OrgOptions:
    return OrgOptions(external_ids=("Account",))


def _contact(operation: Operation = Operation.CREATE, parent: ParentKey | None = None) -> Action:
    matchers = () if operation is Operation.CREATE else (RecordMatcher("Email", ValueSource.of_path("traits.email")),)
    return Action("Contact", operation, matchers, None, (
        FieldMapping("LastName", ValueSource.of_path("traits.last_name")),
        FieldMapping("Email", ValueSource.of_path("traits.email")),
        FieldMapping("AccountId", ValueSource.of_path("traits.company_id"),
                     parent or ParentKey("External_Id__c"))))


def _person(event_id: str, company_id: str | None, email: str = "") -> Event:
    return Event(event_id, {"traits": {"last_name": "Ng", "email": email or f"{event_id}@example.com",
                                       "company_id": company_id}})


def _accounts(backend, *keys: str) -> list[str]:
    outcomes = backend.store().create("Account", [{"Name": f"Acme {k}", "External_Id__c": k} for k in keys])
    assert all(o.success for o in outcomes)
    return [o.id for o in outcomes]


def _account_of(backend, email: str) -> str:
    [row] = backend.store().find(Lookup("Contact", ("Id", "AccountId"), ((FieldIn("Email", (email,)),),)))
    return row["AccountId"]


def test_a_lookup_is_set_from_the_parents_external_id_at_no_extra_call(backend):
    acme, globex = _accounts(backend, "A-1", "A-2")
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    report = service.apply(conn, _contact(), [_person("c1", "A-1"), _person("c2", "a-2"), _person("c3", None)])
    assert [r.status for r in report.results] == [201, 201, 201]
    assert report.api_calls == 2  # describe Contact + one collection create; the parents cost nothing
    assert (_account_of(backend, "c1@example.com"), _account_of(backend, "c2@example.com")) == (acme, globex)
    assert _account_of(backend, "c3@example.com") is None


def test_a_missing_parent_is_422_naming_the_mapping_object_and_key_field_but_not_the_value(backend):
    _accounts(backend, "A-1")
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    results = service.apply(conn, _contact(), [_person("ok", "A-1"), _person("lost", "SECRET-9")]).results
    assert [r.status for r in results] == [201, 422]
    lost = results[1]
    assert lost.outcome is Outcome.REJECTED and lost.error.code == "PARENT_NOT_FOUND"
    assert lost.error.fields == ("AccountId",)
    assert "action.field_mappings[2]" in lost.error.message and "Account" in lost.error.message
    assert "External_Id__c" in lost.error.message and "SECRET-9" not in lost.error.message


def test_several_parents_with_the_key_is_300_with_their_ids(backend):
    first, second = _accounts(backend, "DUP", "dup")
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    for operation in (Operation.CREATE, Operation.UPSERT):
        [result] = service.apply(conn, _contact(operation), [_person("c", "DUP")]).results
        assert (result.status, result.outcome, result.error.code) == (300, Outcome.AMBIGUOUS, "PARENT_AMBIGUOUS")
        assert sorted(result.matched_ids) == sorted([first, second])
        assert "action.field_mappings[2]" in result.error.message


def test_an_update_moves_the_record_to_another_parent(backend):
    _, globex = _accounts(backend, "A-1", "A-2")
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    service.apply(conn, _contact(), [_person("c", "A-1", "ann@example.com")])
    [moved] = service.apply(conn, _contact(Operation.UPDATE), [_person("c", "A-2", "ann@example.com")]).results
    assert moved.status == 200 and _account_of(backend, "ann@example.com") == globex


def test_a_polymorphic_lookup_names_the_parent_object(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    owner = {"Username": "api.user@sfdest.example"}
    action = Action("Case", Operation.CREATE, (), None, (
        FieldMapping("Subject", ValueSource.of_literal("Help")),
        FieldMapping("OwnerId", ValueSource.of_path("traits.owner"), ParentKey("Username", "User"))))
    [created] = service.apply(conn, action, [Event("e", {"traits": {"owner": owner["Username"]}})]).results
    assert created.status == 201
    [row] = backend.store().find(Lookup("Case", ("Id", "OwnerId"), ((FieldIn("Id", (created.record_id,)),),)))
    [user] = backend.store().find(Lookup("User", ("Id",), ((FieldIn("Username", (owner["Username"],)),),)))
    assert row["OwnerId"] == user["Id"]


def test_validate_checks_relationship_parent_object_and_key_field(backend):
    conn = backend.connection_for("acme")
    action = Action("Case", Operation.CREATE, (), None, (
        FieldMapping("OwnerId", ValueSource.of_path("traits.owner"), ParentKey("Username")),
        FieldMapping("AccountId", ValueSource.of_path("traits.company"), ParentKey("Name")),
        FieldMapping("Subject", ValueSource.of_path("traits.subject"), ParentKey("External_Id__c")),
        FieldMapping("ContactId", ValueSource.of_path("traits.contact"), ParentKey("Email", "Lead")),
        FieldMapping("ParentId", ValueSource.of_path("traits.parent"), ParentKey("CaseNumber"))))
    report = ValidateService(backend.factory).validate(action, conn)
    problems = {(d.code, str(d.field_path)) for d in report.diagnostics if d.severity is Severity.ERROR}
    assert problems == {
        ("PARENT_OBJECT_REQUIRED", "action.field_mappings[0].parent"),
        ("PARENT_KEY_NOT_ID_LOOKUP", "action.field_mappings[1].parent.key_field"),
        ("PARENT_KEY_NOT_A_LOOKUP", "action.field_mappings[2].parent"),
        ("PARENT_OBJECT_INVALID", "action.field_mappings[3].parent"),
    }


def test_a_dry_run_plans_without_looking_the_parent_up(backend):
    _accounts(backend, "A-1")
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    before = service.apply(conn, _contact(), [], dry_run=True).api_calls  # the describe, if not cached
    plan = service.apply(conn, _contact(), [_person("c1", "A-1"), _person("c2", "MISSING")], dry_run=True)
    assert [r.outcome for r in plan.results] == [Outcome.WOULD_CREATE, Outcome.WOULD_CREATE]
    assert plan.api_calls <= before  # Salesforce resolves parents when writing: a plan costs no query for them
    assert backend.store().find(Lookup("Contact", ("Id",), ((FieldIn("Email", ("c1@example.com",)),),))) == []


def test_validate_types_parent_keys_from_literals_and_sample_events(backend):
    conn = backend.connection_for("acme")
    action = Action("Case", Operation.CREATE, (), None, (
        FieldMapping("Subject", ValueSource.of_literal("Help")),
        FieldMapping("ParentId", ValueSource.of_literal("not-an-id"), ParentKey("Id")),
        FieldMapping("ContactId", ValueSource.of_path("traits.contact"), ParentKey("Id"))))
    report = ValidateService(backend.factory).validate(action, conn, [
        Event("bad", {"traits": {"contact": "nope"}})])
    assert [(d.code, str(d.field_path)) for d in report.errors] == [
        ("PARENT_KEY_VALUE_INVALID", "action.field_mappings[1].value"),
        ("MAPPING_VALUE_INVALID", "sample_events[0]")]
    assert "parent key" in report.errors[1].message
