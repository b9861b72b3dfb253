"""Records merged away, through ApplyService on every adapter: updates and upserts follow the merge (an Id matcher
in any matcher group finds the surviving record), deletes name it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.model import FieldMapping, MatcherGroup, Operation, Outcome, ValueSource
from core.service import ApplyService
from tests.builders import identify, lead_action, matcher
from tests.contract.test_converted_leads import org_of

TITLE = (FieldMapping("Title", ValueSource.of_path("traits.title")),)
# What an upsert that may create a Lead maps: Title and the required fields.
UPSERTED = (*TITLE, FieldMapping("LastName", ValueSource.of_path("traits.last_name")),
            FieldMapping("Company", ValueSource.of_path("traits.company")))


def by_id(operation: Operation, follow: bool = True):
    action = lead_action(operation, matchers=(matcher("Id", "traits.id"),),
                         mappings=TITLE if operation is Operation.UPDATE else ())
    return replace(action, follow_merges=follow)


def leads(backend, n: int) -> list[str]:
    return [org_of(backend).seed("Lead", {"LastName": f"L{i}", "Company": "Acme"}) for i in range(n)]


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_update_follows_merges_to_the_surviving_record(backend, dry_run):
    a, b, c = leads(backend, 3)
    org = org_of(backend)
    org.merge("Lead", b, [a])  # a -> b
    org.merge("Lead", c, [b])  # b -> c: a reaches c in two hops
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    results = service.apply(conn, by_id(Operation.UPDATE), [identify("e1", id=a, title="VP"),
                                                           identify("e2", id=c, title="CEO")], dry_run=dry_run).results
    updated = Outcome.WOULD_UPDATE if dry_run else Outcome.UPDATED  # a dry run predicts it, through its lookup
    assert [(r.status, r.outcome, r.record_id, r.matched_ids) for r in results] == [
        (200, updated, c, (a,)), (200, updated, c, ())]
    assert org.get("Lead", c)["Title"] == (None if dry_run else "CEO")  # the events stay in order on the survivor


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_delete_of_a_merged_record_is_not_found_naming_the_survivor(backend, dry_run):
    a, b = leads(backend, 2)
    org_of(backend).merge("Lead", b, [a])
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [result] = service.apply(conn, by_id(Operation.DELETE), [identify("e1", id=a)], dry_run=dry_run).results
    assert (result.status, result.outcome, result.record_id, result.matched_ids) == (404, Outcome.NOT_FOUND, a, (b,))
    assert b in result.error.message and result.error.code == "ENTITY_IS_DELETED"
    assert org_of(backend).get("Lead", b)["Id"] == b  # the survivor is untouched


def test_a_delete_of_a_record_merged_twice_names_the_final_survivor(backend):
    a, b, c = leads(backend, 3)
    org = org_of(backend)
    org.merge("Lead", b, [a])
    org.merge("Lead", c, [b])  # a went into b, and b into c: c is what survives of a
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [result] = service.apply(conn, by_id(Operation.DELETE), [identify("e1", id=a)]).results
    assert (result.status, result.outcome, result.record_id, result.matched_ids) == (404, Outcome.NOT_FOUND, a, (c,))
    assert c in result.error.message and result.error.code == "ENTITY_IS_DELETED"
    assert org.get("Lead", c)["Id"] == c


@pytest.mark.parametrize("follow", [False, True])
def test_without_the_option_or_for_a_plain_delete_nothing_is_followed(backend, follow):
    a, b = leads(backend, 2)
    org = org_of(backend)
    if follow:
        org.delete("Lead", a)  # deleted, not merged: nothing to follow
    else:
        org.merge("Lead", b, [a])
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    report = service.apply(conn, by_id(Operation.UPDATE, follow), [identify("e1", id=a, title="VP")])
    [result] = report.results
    assert (result.status, result.error.code, result.matched_ids) == (404, "ENTITY_IS_DELETED", ())
    assert org.get("Lead", b)["Title"] is None


def test_merges_are_followed_at_most_five_times(backend):
    ids = leads(backend, 7)
    org = org_of(backend)
    for loser, master in zip(ids, ids[1:], strict=False):
        org.merge("Lead", master, [loser])
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [far, near] = service.apply(conn, by_id(Operation.UPDATE), [identify("e1", id=ids[0], title="VP"),
                                                               identify("e2", id=ids[1], title="VP")]).results
    assert (far.status, far.error.code) == (404, "ENTITY_IS_DELETED") and "5 times" in far.error.message
    assert (near.status, near.record_id) == (200, ids[6])


def test_validate_says_where_follow_merges_has_no_effect(backend):
    from core.service import ValidateService

    on_email = replace(lead_action(Operation.UPDATE), follow_merges=True)
    report = ValidateService(backend.factory).validate(on_email, backend.connection_for("acme"))
    assert [(d.code, str(d.field_path)) for d in report.diagnostics] == [("FOLLOW_MERGES_IGNORED", "action.follow_merges")]
    assert report.valid
    assert not ValidateService(backend.factory).validate(by_id(Operation.UPDATE), backend.connection_for("acme")
                                                         ).diagnostics
    assert not ValidateService(backend.factory).validate(cascade(), backend.connection_for("acme")).diagnostics


def upsert_by_id(follow: bool = True):
    return replace(lead_action(Operation.UPSERT, matchers=(matcher("Id", "traits.id"),), mappings=UPSERTED),
                   follow_merges=follow)


def cascade(follow: bool = True):
    """Match on Email; without one, on Id: the Id matcher is in a fallback group."""
    return replace(lead_action(Operation.UPSERT, mappings=UPSERTED),
                   fallback_matchers=(MatcherGroup((matcher("Id", "traits.id"),)),), follow_merges=follow)


def test_an_upsert_by_id_finds_the_surviving_record_in_its_lookup(backend):
    a, b, c = leads(backend, 3)
    org = org_of(backend)
    org.merge("Lead", b, [a])
    org.merge("Lead", c, [b])  # a -> b -> c
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    events = [identify("e1", id=a, title="VP"), identify("e2", id=c, title="CEO"), identify("e3", id=a[:15], title="X")]
    report = service.apply(conn, upsert_by_id(), events)
    assert [(r.status, r.outcome, r.record_id, r.matched_ids) for r in report.results] == [
        (200, Outcome.UPDATED, c, (a,)), (200, Outcome.UPDATED, c, ()), (200, Outcome.UPDATED, c, (a,))]
    assert org.get("Lead", c)["Title"] == "X" and len(org.records("Lead")) == 1  # nothing created
    # the lookup and the merges of its ids in one call, one more per further hop for the whole batch (a's second
    # merge, then c's record and that it was not merged), and one write: the three updates of c folded into one
    assert report.api_calls - report.describe_calls == 1 + 2 + 1
    print(f"upsert by id following two merges: {report.api_calls - report.describe_calls} calls for 3 events")


def test_without_merges_met_the_lookup_costs_what_it_did(backend):
    [a] = leads(backend, 1)
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    report = service.apply(conn, upsert_by_id(), [identify("e1", id=a, title="VP")])
    assert [(r.status, r.record_id) for r in report.results] == [(200, a)]
    assert report.api_calls - report.describe_calls == 2  # the lookup (with the merges' queryAll) and the write


def test_a_cascade_whose_fallback_group_names_a_merged_record_updates_the_survivor(backend):
    a, b = leads(backend, 2)
    org = org_of(backend)
    org.merge("Lead", b, [a])
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    report = service.apply(conn, cascade(), [identify("e1", id=a, title="VP"),
                                             identify("e2", email="new@x.com", id=a, title="CTO")])
    assert [(r.status, r.outcome, r.record_id, r.matched_ids, r.matched_group) for r in report.results] == [
        (200, Outcome.UPDATED, b, (a,), "action.fallback_matchers[0]"),
        (200, Outcome.UPDATED, b, (a,), "action.fallback_matchers[0]")]
    assert org.get("Lead", b)["Title"] == "CTO" and len(org.records("Lead")) == 1
    dry = service.apply(conn, cascade(), [identify("e3", id=a, title="CFO")], dry_run=True).results
    assert [(r.status, r.outcome, r.record_id, r.matched_ids) for r in dry] == [(200, Outcome.WOULD_UPDATE, b, (a,))]


def test_an_upsert_without_the_option_or_past_five_merges_does_not_reach_the_survivor(backend):
    ids = leads(backend, 7)
    org = org_of(backend)
    for loser, master in zip(ids, ids[1:], strict=False):
        org.merge("Lead", master, [loser])
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [far, near] = service.apply(conn, upsert_by_id(), [identify("e1", id=ids[0], title="VP"),
                                                       identify("e2", id=ids[1], title="VP")]).results
    assert (far.status, far.error.code) == (404, "ENTITY_IS_DELETED") and "5 times" in far.error.message
    assert (near.status, near.record_id, near.matched_ids) == (200, ids[6], (ids[1],))
    [plain] = service.apply(conn, upsert_by_id(follow=False), [identify("e3", id=ids[1], title="VP")]).results
    assert plain.status == 201 and plain.record_id != ids[6]  # the id names no live record: a new Lead
