"""Batch rules through ApplyService, the same on every adapter (the semantics table: test_apply_semantics.py)."""

from __future__ import annotations

import pytest

from core.model import Action, FieldMapping, Operation, Outcome, ValueSource
from core.service import ApplyService
from tests.builders import identify, lead_action, matcher


def seed(service, conn, *emails):
    events = [identify(f"seed-{i}", email=e, last_name=f"Seed{i}") for i, e in enumerate(emails)]
    results = service.apply(conn, lead_action(Operation.CREATE), events).results
    assert [r.status for r in results] == [201] * len(emails)
    return [r.record_id for r in results]


def test_hostile_matcher_values_find_exactly_their_record(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    hostile = ["O'Brien & Co", "back\\slash\\", "x' OR Company != '", "line\nbreak\r", "tab\t\"q\" \u00e9\u2603\x01"]
    created = service.apply(conn, lead_action(Operation.CREATE), [identify(f"s{i}", company=v) for i, v in
                                                                   enumerate([*hostile, "plain"])]).results
    ids = [r.record_id for r in created]
    by_company = lead_action(Operation.UPDATE, matchers=(matcher("Company", "traits.company"),), mappings=(
        FieldMapping("FirstName", ValueSource.of_literal("Z")),))
    results = service.apply(conn, by_company, [identify(f"e{i}", company=v) for i, v in enumerate(hostile)]).results
    assert [(r.status, r.record_id) for r in results] == [(200, rid) for rid in ids[:len(hostile)]]


def test_external_id_upsert_batch_and_dry_run(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    action = Action("Subscription__c", Operation.UPSERT, (matcher("External_Id__c", "properties.sub"),), None,
                    (FieldMapping("Plan__c", ValueSource.of_path("properties.plan")),))
    events = [identify(f"e{i}") for i in range(4)]
    for i, e in enumerate(events):
        e.payload["properties"] = {"sub": ["A", "B", "a", "C"][i], "plan": f"p{i}"}
    plan = service.apply(conn, action, events, dry_run=True).results
    assert [r.outcome for r in plan] == [Outcome.WOULD_CREATE, Outcome.WOULD_CREATE, Outcome.WOULD_UPDATE,
                                         Outcome.WOULD_CREATE]
    done = service.apply(conn, action, events).results
    assert [r.status for r in done] == [201, 201, 200, 201]
    assert done[0].record_id == done[2].record_id
    again = service.apply(conn, action, events[:1]).results
    assert again[0].status == 200


def test_apply_reports_api_calls_and_usage(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    report = service.apply(conn, lead_action(Operation.CREATE), [identify(f"e{i}", email=f"{i}@x.com")
                                                                 for i in range(250)])
    assert [r.status for r in report.results] == [201] * 250
    assert report.api_calls == 2  # describe + one Composite call carrying two collection creates
    assert report.api_usage is not None and report.api_usage.used >= 2


@pytest.mark.parametrize("operation,status", [(Operation.UPDATE, 200), (Operation.DELETE, 204)])
def test_an_update_or_delete_of_an_id_that_is_no_record_is_not_found(backend, operation, status):
    """Collections answer INVALID_CROSS_REFERENCE_KEY for such an id (no id, "fields": []): still a 404."""
    from core.names import to_18

    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [real] = seed(service, conn, "ann@example.com")
    never = to_18("00QHs0000ZZZZZZ")
    action = lead_action(operation, matchers=(matcher("Id", "traits.lead_id"),))
    results = service.apply(conn, action, [identify("e1", lead_id=never), identify("e2", lead_id=real)]).results
    assert [(r.status, r.outcome, r.record_id) for r in results] == [
        (404, Outcome.NOT_FOUND, never), (status, Outcome.DELETED if status == 204 else Outcome.UPDATED, real)]
    assert results[0].error.code == "NOT_FOUND" and not results[0].retryable
