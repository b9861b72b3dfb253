"""Duplicate rules (header, DUPLICATES_DETECTED, adopting the duplicate) and assignment rules, on both backends."""

from __future__ import annotations

import json

import pytest

from adapters.memory.org_options import OrgOptions
from core.model import (
    ASSIGNMENT_DEFAULT,
    ASSIGNMENT_NONE,
    Action,
    DuplicateRuleHeader,
    Event,
    FieldMapping,
    Operation,
    Outcome,
    Severity,
    ValueSource,
)
from core.ports import FieldIn, Lookup
from core.service import ApplyService, ValidateService


@pytest.fixture
def org_options() -> OrgOptions:
    return OrgOptions(duplicate_rules=(("Lead", "Email"),), assignment_rule=True)


def _lead(**options) -> Action:
    return Action("Lead", Operation.CREATE, (), None, (
        FieldMapping("LastName", ValueSource.of_path("traits.last_name")),
        FieldMapping("Company", ValueSource.of_literal("Acme")),
        FieldMapping("Email", ValueSource.of_path("traits.email"))), **options)


def _person(event_id: str, email: str, last_name: str = "Ng") -> Event:
    return Event(event_id, {"traits": {"email": email, "last_name": last_name}})


def _leads(backend, email: str) -> list[dict]:
    return backend.store().find(Lookup("Lead", ("Id", "LastName", "OwnerId"), ((FieldIn("Email", (email,)),),)))


def _seed(backend, *emails: str) -> list[str]:
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    allow = DuplicateRuleHeader(allow_save=True)
    results = service.apply(conn, _lead(duplicate_rule=allow), [_person(f"s{i}", e) for i, e in enumerate(emails)])
    assert [r.status for r in results.results] == [201] * len(emails)
    return [r.record_id for r in results.results]


def test_duplicates_detected_is_409_with_the_duplicate_ids_and_allow_save_saves(backend):
    [first] = _seed(backend, "ann@example.com")
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [blocked] = service.apply(conn, _lead(), [_person("e", "ANN@example.com")]).results
    assert (blocked.status, blocked.outcome, blocked.error.code) == (409, Outcome.DUPLICATE, "DUPLICATES_DETECTED")
    assert blocked.matched_ids == (first,)
    header = DuplicateRuleHeader(allow_save=True, include_record_details=True)
    [saved] = service.apply(conn, _lead(duplicate_rule=header), [_person("e", "ann@example.com")]).results
    assert saved.status == 201 and len(_leads(backend, "ann@example.com")) == 2


def test_adopting_the_single_duplicate_updates_it_and_several_are_300(backend):
    first, second = _seed(backend, "ann@example.com", "bob@example.com")
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [adopted] = service.apply(conn, _lead(adopt_duplicate=True), [_person("e", "ann@example.com", "Nguyen")]).results
    assert (adopted.status, adopted.outcome, adopted.record_id) == (200, Outcome.UPDATED, first)
    assert [r["LastName"] for r in _leads(backend, "ann@example.com")] == ["Nguyen"]
    _seed(backend, "bob@example.com")
    [several] = service.apply(conn, _lead(adopt_duplicate=True), [_person("e", "bob@example.com")]).results
    assert (several.status, several.outcome, several.error.code) == (300, Outcome.AMBIGUOUS, "MULTIPLE_DUPLICATES")
    assert second in several.matched_ids and len(several.matched_ids) == 2


def test_the_assignment_rule_header_routes_new_leads(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    results = service.apply(conn, _lead(assignment_rule=ASSIGNMENT_NONE, duplicate_rule=DuplicateRuleHeader(True)),
                            [_person("a", "a@example.com")]).results
    [by_default] = service.apply(conn, _lead(), [_person("b", "b@example.com")]).results
    [by_rule] = service.apply(conn, _lead(assignment_rule=ASSIGNMENT_DEFAULT), [_person("c", "c@example.com")]).results
    assert results[0].status == by_default.status == by_rule.status == 201
    [none] = _leads(backend, "a@example.com")
    [default] = _leads(backend, "b@example.com")
    [routed] = _leads(backend, "c@example.com")
    assert none["OwnerId"].startswith("005")  # no rule: the API user owns it
    assert default["OwnerId"].startswith("00G") and routed["OwnerId"] == default["OwnerId"]  # a queue


def test_validate_checks_the_assignment_rule_option():
    from core.names import to_18
    from core.validation import validate_static

    bad = Action("Contact", Operation.CREATE, (), None, (), assignment_rule="nonsense")
    codes = {(d.code, str(d.field_path)) for d in validate_static(bad) if d.severity is Severity.ERROR}
    assert codes == {("INVALID_ASSIGNMENT_RULE", "action.assignment_rule"),
                     ("ASSIGNMENT_RULE_NOT_SUPPORTED", "action.assignment_rule")}
    ok = Action("Case", Operation.CREATE, (), None, (), assignment_rule=to_18("01Q000000000001"))
    assert not [d for d in validate_static(ok) if str(d.field_path) == "action.assignment_rule"]


def test_the_headers_go_on_the_wire(salesforce_backend):
    service, conn = ApplyService(salesforce_backend.factory), salesforce_backend.connection_for("acme")
    header = DuplicateRuleHeader(allow_save=True, run_as_current_user=True)
    service.apply(conn, _lead(duplicate_rule=header, assignment_rule=ASSIGNMENT_NONE), [_person("a", "a@x.com")])
    emulator = salesforce_backend.emulators["acme"]
    # the create collection goes inside a Composite call: the headers go with that subrequest
    [call] = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/composite")]
    [write] = [s for s in json.loads(call.body)["compositeRequest"] if s["url"].endswith("/composite/sobjects")]
    headers = {k.lower(): v for k, v in write["httpHeaders"].items()}
    assert headers["sforce-duplicate-rule-header"] == ("allowSave=true, includeRecordDetails=false, "
                                                       "runAsCurrentUser=true")
    assert headers["sforce-auto-assign"] == "FALSE"
    assert not any("sforce-auto-assign" in r.headers for r in emulator.requests if r.method == "GET")


def test_validate_accepts_write_options(backend):
    conn = backend.connection_for("acme")
    report = ValidateService(backend.factory).validate(_lead(adopt_duplicate=True, assignment_rule="default"), conn)
    assert report.valid


def test_a_dry_run_sends_nothing_whatever_the_write_options(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    action = _lead(adopt_duplicate=True, assignment_rule=ASSIGNMENT_DEFAULT, duplicate_rule=DuplicateRuleHeader())
    [planned] = service.apply(conn, action, [_person("a", "new@example.com")], dry_run=True).results
    assert planned.outcome is Outcome.WOULD_CREATE and _leads(backend, "new@example.com") == []
