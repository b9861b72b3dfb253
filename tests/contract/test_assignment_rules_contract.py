"""The assignment rule header on Case creates and updates (Salesforce applies it to both), on both backends."""

from __future__ import annotations

import json

import pytest

from adapters.memory.org_options import OrgOptions
from core.model import (
    ASSIGNMENT_DEFAULT,
    ASSIGNMENT_NONE,
    Action,
    Event,
    FieldMapping,
    Operation,
    RecordMatcher,
    ValueSource,
)
from core.names import to_18
from core.ports import FieldIn, Lookup
from core.service import ApplyService

RULE = to_18("01QHs00000CaseR")  # a Case rule that is not the default one


@pytest.fixture
def org_options() -> OrgOptions:
    return OrgOptions(assignment_rule=True, assignment_rule_ids=(RULE,))


def _create(**options) -> Action:
    return Action("Case", Operation.CREATE, (), None, (
        FieldMapping("Subject", ValueSource.of_path("subject")),
        FieldMapping("SuppliedEmail", ValueSource.of_path("email"))), **options)


def _update(**options) -> Action:
    return Action("Case", Operation.UPDATE, (RecordMatcher("Id", ValueSource.of_path("id")),), None, (
        FieldMapping("Subject", ValueSource.of_path("subject")),), **options)


def _owners(backend, *emails: str) -> list[str]:
    rows = backend.store().find(Lookup("Case", ("Id", "SuppliedEmail", "OwnerId"),
                                       ((FieldIn("SuppliedEmail", emails),),)))
    by_email = {r["SuppliedEmail"]: r["OwnerId"] for r in rows}
    return [by_email[e] for e in emails]


def _create_cases(backend, action: Action, *emails: str) -> list[str]:
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    events = [Event(e, {"subject": "Help", "email": e}) for e in emails]
    results = service.apply(conn, action, events).results
    assert [r.status for r in results] == [201] * len(emails)
    return [r.record_id for r in results]


def test_case_creates_follow_the_default_rule_a_named_rule_or_none(backend):
    _create_cases(backend, _create(), "absent@x.com")
    _create_cases(backend, _create(assignment_rule=ASSIGNMENT_DEFAULT), "default@x.com")
    _create_cases(backend, _create(assignment_rule=RULE), "rule@x.com")
    _create_cases(backend, _create(assignment_rule=ASSIGNMENT_NONE), "none@x.com")
    absent, default, by_rule, none = _owners(backend, "absent@x.com", "default@x.com", "rule@x.com", "none@x.com")
    assert absent == default and default.startswith("00G")  # no header: Salesforce applies the default rule
    assert by_rule.startswith("00G") and by_rule != default  # the named rule's own queue
    assert none.startswith("005")  # no rule: the API user owns it


def test_case_updates_are_routed_by_the_header_too(backend):
    ids = _create_cases(backend, _create(assignment_rule=ASSIGNMENT_NONE), "a@x.com", "b@x.com", "c@x.com")
    [user] = set(_owners(backend, "a@x.com", "b@x.com", "c@x.com"))
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    for action, rid in ((_update(assignment_rule=RULE), ids[0]), (_update(assignment_rule=ASSIGNMENT_NONE), ids[1]),
                        (_update(assignment_rule=ASSIGNMENT_DEFAULT), ids[2])):
        [done] = service.apply(conn, action, [Event(rid, {"id": rid, "subject": "Again"})]).results
        assert (done.status, done.record_id) == (200, rid)
    _create_cases(backend, _create(assignment_rule=RULE), "q@x.com")
    by_rule, kept, default, queue = _owners(backend, "a@x.com", "b@x.com", "c@x.com", "q@x.com")
    assert by_rule == queue and kept == user and default.startswith("00G") and default != queue


def test_the_case_header_goes_on_the_wire_for_creates_and_updates(salesforce_backend):
    [rid] = _create_cases(salesforce_backend, _create(assignment_rule=RULE), "w@x.com")
    service, conn = ApplyService(salesforce_backend.factory), salesforce_backend.connection_for("acme")
    service.apply(conn, _update(assignment_rule=ASSIGNMENT_DEFAULT), [Event("u", {"id": rid, "subject": "Again"})])
    service.apply(conn, _update(), [Event("v", {"id": rid, "subject": "Third"})])
    assert _collection_writes(salesforce_backend.emulators["acme"].requests) == [
        ("POST", RULE), ("PATCH", "TRUE"), ("PATCH", None)]


def _collection_writes(requests) -> list[tuple[str, str | None]]:
    """(method, Sforce-Auto-Assign) of each sObject Collections write, sent alone or inside a Composite call."""
    out: list[tuple[str, str | None]] = []
    for r in requests:
        if r.path.endswith("/composite/sobjects"):
            out.append((r.method, r.headers.get("sforce-auto-assign")))
        elif r.method == "POST" and r.path.endswith("/composite"):
            for sub in json.loads(r.body)["compositeRequest"]:
                if sub["url"].endswith("/composite/sobjects"):
                    headers = {k.lower(): v for k, v in (sub.get("httpHeaders") or {}).items()}
                    out.append((sub["method"], headers.get("sforce-auto-assign")))
    return out
