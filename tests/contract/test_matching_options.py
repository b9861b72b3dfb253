"""Fallback matcher groups and match policies through ApplyService, the same on every adapter."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.model import (
    Action,
    FieldMapping,
    MatcherGroup,
    MatcherOperator,
    MatchPolicy,
    Operation,
    Outcome,
    ValueSource,
)
from core.service import ApplyService, ValidateService
from tests.builders import identify, lead_action, matcher
from tests.clocks import ticking_clock

BY_NAME = MatcherGroup((matcher("FirstName", "traits.first_name"), matcher("LastName", "traits.last_name"),
                        matcher("Company", "traits.company")), MatcherOperator.AND)


def cascade(operation: Operation) -> Action:
    """Match on Email; if nothing matches, on FirstName AND LastName AND Company; if nothing matches, create."""
    return replace(lead_action(operation), fallback_matchers=(BY_NAME,))


@pytest.fixture
def org_clock():
    """Dates are stored in whole seconds, as Salesforce stores them: each write's a second after the last, so the
    policies can tell the records apart (without waiting for the wall clock)."""
    return ticking_clock(timedelta(seconds=1))


def create(service, conn, *people: dict) -> list[str]:
    ids = []
    for i, traits in enumerate(people):
        [r] = service.apply(conn, lead_action(Operation.CREATE), [identify(f"seed-{i}", **traits)]).results
        assert r.status == 201
        ids.append(r.record_id)
    return ids


def test_a_cascade_tries_each_group_in_turn_and_names_the_one_that_matched(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    by_email, by_name = create(service, conn, {"email": "ann@x.com", "first_name": "Ann"},
                               {"first_name": "Bo", "last_name": "Lee", "company": "Acme"})
    events = [identify("e1", email="ANN@x.com", first_name="Zed"),  # group 1 wins over group 2
              identify("e2", email="none@x.com", first_name="bo", last_name="LEE", company="acme"),
              identify("e3", email="new@x.com", first_name="Cy"),  # nothing matches: create
              identify("e4", first_name="Bo", last_name="Lee", company="Acme", title="x")]
    results = service.apply(conn, cascade(Operation.UPSERT), events).results
    assert [(r.status, r.record_id, r.matched_group) for r in results[:2]] == [
        (200, by_email, "action.record_matchers"), (200, by_name, "action.fallback_matchers[0]")]
    assert (results[2].status, results[2].matched_group) == (201, "")
    assert (results[3].status, results[3].record_id) == (200, by_name)  # no email: group 1 skipped


def test_several_matches_in_a_group_stop_the_cascade(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    twins = create(service, conn, *[{"first_name": "Bo", "last_name": "Lee", "company": "Acme"}] * 2)
    [result] = service.apply(conn, cascade(Operation.UPSERT), [
        identify("e1", email="nobody@x.com", first_name="Bo", last_name="Lee", company="Acme")]).results
    assert (result.status, result.outcome, sorted(result.matched_ids)) == (300, Outcome.AMBIGUOUS, sorted(twins))
    assert result.matched_group == "action.fallback_matchers[0]"


def test_an_event_that_skips_every_group_is_invalid_naming_the_groups(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    event = identify("e1", first_name="Bo")
    del event.payload["traits"]["company"]
    [result] = service.apply(conn, cascade(Operation.UPDATE), [event]).results
    assert (result.status, result.error.code) == (400, "MATCHER_VALUE_MISSING")
    assert "action.record_matchers" in result.error.message
    assert "action.fallback_matchers[0]" in result.error.message


def test_update_with_a_cascade_and_no_match_in_any_group_is_not_found(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [result] = service.apply(conn, cascade(Operation.UPDATE), [
        identify("e1", email="a@x.com", first_name="A", last_name="B", company="C")]).results
    assert (result.status, result.outcome) == (404, Outcome.NOT_FOUND)


@pytest.mark.parametrize("policy,chosen", [(MatchPolicy.OLDEST, 0), (MatchPolicy.NEWEST, 2),
                                           (MatchPolicy.LAST_MODIFIED, 1)])
def test_a_policy_picks_one_of_several_matches_and_lists_every_candidate(backend, policy, chosen):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    ids = create(service, conn, *[{"email": "ann@x.com", "last_name": f"L{i}"} for i in range(3)])
    touch = lead_action(Operation.UPDATE, matchers=(matcher("Id", "traits.id"),),
                        mappings=(FieldMapping("Title", ValueSource.of_literal("touched")),))
    assert service.apply(conn, touch, [identify("t", id=ids[1])]).results[0].status == 200
    action = replace(lead_action(Operation.UPSERT), match_policy=policy)
    [result] = service.apply(conn, action, [identify("e1", email="Ann@X.com", title="VP")]).results
    assert (result.status, result.record_id, result.chosen_by) == (200, ids[chosen], policy.value)
    assert sorted(result.matched_ids) == sorted(ids)


@pytest.mark.parametrize("operation,status", [(Operation.UPDATE, 200), (Operation.DELETE, 204)])
def test_policy_all_writes_every_match(backend, operation, status):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    ids = create(service, conn, *[{"email": "ann@x.com", "last_name": f"L{i}"} for i in range(3)])
    action = replace(lead_action(operation, mappings=(FieldMapping("Title", ValueSource.of_literal("VP")),)),
                     match_policy=MatchPolicy.ALL)
    [result] = service.apply(conn, action, [identify("e1", email="ann@x.com")]).results
    assert (result.status, result.record_id, result.chosen_by) == (status, min(ids), "ALL")
    assert sorted(result.matched_ids) == sorted(ids)
    again = service.apply(conn, lead_action(Operation.UPDATE), [identify("e2", email="ann@x.com")]).results[0]
    assert again.status == (300 if operation is Operation.UPDATE else 404)


def test_a_single_match_reports_no_rule(backend):
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [rid] = create(service, conn, {"email": "solo@x.com"})
    action = replace(lead_action(Operation.UPDATE), match_policy=MatchPolicy.NEWEST)
    [result] = service.apply(conn, action, [identify("e1", email="solo@x.com")]).results
    assert (result.status, result.record_id, result.chosen_by, result.matched_ids) == (200, rid, "", ())


def test_validate_checks_every_group_and_where_a_policy_applies(backend):
    conn = backend.connection_for("acme")
    action = replace(lead_action(Operation.UPSERT), match_policy=MatchPolicy.ALL, fallback_matchers=(
        MatcherGroup((matcher("Description", "traits.bio"), matcher("Nope__c", "traits.x"))),))
    report = ValidateService(backend.factory).validate(action, conn)
    assert {(d.code, str(d.field_path)) for d in report.errors} == {
        ("POLICY_NOT_ALLOWED", "action.match_policy"),
        ("FIELD_NOT_FILTERABLE", "action.fallback_matchers[0].record_matchers[0].field"),
        ("UNKNOWN_FIELD", "action.fallback_matchers[0].record_matchers[1].field")}
