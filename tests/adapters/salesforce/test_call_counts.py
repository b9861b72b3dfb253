"""Salesforce API calls per batch, counted at the emulator (token requests are not API calls)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from adapters.salesforce import soql
from core.model import FieldMapping, MatcherGroup, MatcherOperator, Operation
from tests.adapters.salesforce.harness import harness, seed_leads
from tests.builders import (
    LEAD_FIELDS_WITH_PHONE_TITLE,
    SUB,
    by_id,
    identify_only,
    lead,
    matcher,
    path,
    person,
    subscription_upsert,
    track,
)

WRITE_KINDS = {"collection_create", "collection_update", "collection_upsert", "collection_delete"}


def writes(emu) -> int:
    return sum(n for kind, n in emu.calls.items() if kind in WRITE_KINDS)


@pytest.mark.parametrize("n", [1, 200, 201, 450])
def test_create_costs_one_collection_call_per_200_records(emulator, n):
    with harness(emulator) as h:
        h.warm("Lead")  # counted after a warm-up describe
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"new{i}@example.com") for i in range(n)])
    assert {r.status for r in report.results} == {201}
    assert emulator.calls["collection_create"] == math.ceil(n / 200)
    assert emulator.api_calls == math.ceil(n / 200) == report.api_calls
    assert emulator.token_requests == 0  # the warm-up token is reused (token requests are not API calls)


def test_create_including_the_describe_is_one_call_more(emulator):
    with harness(emulator) as h:
        emulator.reset_counters()
        h.apply(lead(Operation.CREATE), [person(f"e{i}", f"new{i}@example.com") for i in range(450)])
    assert emulator.api_calls == 1 + 3 and emulator.calls["describe"] == 1


def test_a_thousand_upserts_on_an_external_id_cost_five_calls_and_no_lookup(emulator):
    existing = [emulator.org.seed(SUB, {"External_Id__c": f"S-{i}", "Plan__c": "old"}) for i in range(0, 1000, 2)]
    events = [track(f"e{i}", sub_id=f"S-{i}", plan="new") for i in range(1000)]
    with harness(emulator) as h:
        h.warm(SUB)  # describe cached (per connection and object, with a TTL): not part of the batch
        report = h.apply(subscription_upsert(), events)
    assert [r.status for r in report.results] == [200 if i % 2 == 0 else 201 for i in range(1000)]
    assert emulator.api_calls <= 5
    assert emulator.calls["collection_upsert"] == 5 and emulator.calls["query"] == 0
    assert {emulator.org.get(SUB, rid)["Plan__c"] for rid in existing} == {"new"}


@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.DELETE])
def test_update_and_delete_by_id_need_no_lookup(emulator, operation):
    ids = seed_leads(emulator, 450)
    events = [identify_only(f"e{i}", lead_id=rid, title="CEO") for i, rid in enumerate(ids)]
    with harness(emulator) as h:
        h.warm("Lead")
        report = h.apply(by_id(operation), events)
    assert {r.status for r in report.results} == ({200} if operation is Operation.UPDATE else {204})
    assert emulator.calls["query"] == 0
    assert emulator.api_calls == writes(emulator) == 3


def _query_urls(emu) -> list[str]:
    prefix = f"{emu.base_url}/services/data/v62.0/query?q="
    return [soql.query_url(prefix, r.query["q"][0]) for r in emu.requests if r.path.endswith("/query")]


def test_a_thousand_upserts_on_email_cost_at_most_twelve_calls_describe_included(emulator):
    seed_leads(emulator, 500, prefix="someone.with.a.long.address.")
    events = [person(f"e{i}", f"someone.with.a.long.address.{i}@example.com", title="VP") for i in range(1000)]
    with harness(emulator) as h:
        emulator.reset_counters()
        report = h.apply(lead(Operation.UPSERT), events)
    assert [r.status for r in report.results] == [200] * 500 + [201] * 500
    assert emulator.api_calls <= 12
    # 500 updates and 500 creates: a collections call is one or the other (PATCH or POST)
    assert emulator.calls["collection_update"] == emulator.calls["collection_create"] == 3
    assert writes(emulator) == 6 and emulator.calls["describe"] == 1
    urls = _query_urls(emulator)
    assert len(urls) == emulator.calls["query"] >= 2  # one lookup would not fit in one URI
    # Split only to stay under the URI limit: no two of the lookups would fit in one.
    assert all(len(u.encode()) <= soql.DEFAULT_MAX_URL_BYTES for u in urls)
    assert sum(len(u.encode()) for u in urls) > (len(urls) // 2) * soql.DEFAULT_MAX_URL_BYTES


def test_one_lookup_serves_every_event_that_fits_in_one_uri(emulator):
    seed_leads(emulator, 300)
    with harness(emulator) as h:
        h.warm("Lead")
        report = h.apply(lead(Operation.UPDATE), [person(f"e{i}", f"lead{i}@example.com", title="VP")
                                                   for i in range(300)])
    assert {r.status for r in report.results} == {200}
    assert emulator.calls["query"] == 1 and writes(emulator) == 2


@pytest.mark.parametrize("operator", [MatcherOperator.OR, MatcherOperator.AND])
def test_several_matchers_still_cost_one_lookup_and_a_write_per_200(emulator, operator):
    ids = seed_leads(emulator, 250, Phone="555")
    action = lead(Operation.UPDATE, matcher("Email", "traits.email"), matcher("LastName", "traits.last_name"),
                  operator=operator)
    events = [person(f"e{i}", f"lead{i}@example.com", last_name=f"L{i}", title="VP") for i in range(250)]
    with harness(emulator) as h:
        h.warm("Lead")
        report = h.apply(action, events)
    assert [r.record_id for r in report.results] == ids
    assert emulator.calls["query"] <= 2 and writes(emulator) == 2


def test_delete_on_email_costs_lookups_plus_one_call_per_200(emulator):
    seed_leads(emulator, 400)
    with harness(emulator) as h:
        h.warm("Lead")
        report = h.apply(lead(Operation.DELETE), [person(f"e{i}", f"lead{i}@example.com") for i in range(400)])
    assert {r.status for r in report.results} == {204}
    assert emulator.calls["query"] == 1 and emulator.calls["collection_delete"] == 2


def test_a_bulk_sized_upsert_costs_a_handful_of_calls(emulator):
    events = [track(f"e{i}", sub_id=f"S-{i}", plan="p") for i in range(2500)]
    with harness(emulator, bulk_threshold=2000) as h:
        h.warm(SUB)
        report = h.apply(subscription_upsert(), events)
    assert {r.status for r in report.results} == {201}
    # create job, upload, close, poll, successful results: no failed rows, so no failedResults download
    assert emulator.api_calls == emulator.bulk_calls == 5
    assert emulator.calls["bulk_upload"] == 1 and emulator.calls["bulk_results"] == 1


# Composite: five collections (or queries) a call ------------------------------------------------------------
def _thousand(emulator, action, events, *objects):
    with harness(emulator, use_composite=True) as h:
        h.warm(*objects)  # describe is counted apart (and cached): not part of the batch
        report = h.apply(action, events)
    return report


def test_a_thousand_upserts_on_email_half_new_cost_three_calls(emulator):
    seed_leads(emulator, 500, prefix="someone.with.a.long.address.")
    events = [person(f"e{i}", f"someone.with.a.long.address.{i}@example.com", title="VP") for i in range(1000)]
    report = _thousand(emulator, lead(Operation.UPSERT), events, "Lead")
    assert [r.status for r in report.results] == [200] * 500 + [201] * 500
    # the lookups (split for the URI limit) in one call; 3 update and 3 create collections in two
    assert emulator.api_calls == report.api_calls == 3 and emulator.calls["composite"] == 3
    assert emulator.subrequests["query"] >= 2 and emulator.subrequests["collection_update"] == 3
    assert emulator.subrequests["collection_create"] == 3 and report.describe_calls == 0


def test_a_thousand_upserts_on_an_external_id_cost_one_call(emulator):
    existing = [emulator.org.seed(SUB, {"External_Id__c": f"S-{i}", "Plan__c": "old"}) for i in range(0, 1000, 2)]
    report = _thousand(emulator, subscription_upsert(), [track(f"e{i}", sub_id=f"S-{i}", plan="new")
                                                         for i in range(1000)], SUB)
    assert [r.status for r in report.results] == [200 if i % 2 == 0 else 201 for i in range(1000)]
    assert emulator.api_calls == 1 and emulator.subrequests["collection_upsert"] == 5
    assert {emulator.org.get(SUB, rid)["Plan__c"] for rid in existing} == {"new"}


def test_a_thousand_creates_cost_one_call(emulator):
    report = _thousand(emulator, lead(Operation.CREATE), [person(f"e{i}", f"new{i}@example.com")
                                                          for i in range(1000)], "Lead")
    assert {r.status for r in report.results} == {201} and len(emulator.org.records("Lead")) == 1000
    assert emulator.api_calls == 1 and emulator.subrequests["collection_create"] == 5


@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.DELETE])
def test_a_thousand_updates_or_deletes_by_id_cost_one_call(emulator, operation):
    ids = seed_leads(emulator, 1000)
    report = _thousand(emulator, by_id(operation), [identify_only(f"e{i}", lead_id=rid, title="CEO")
                                                    for i, rid in enumerate(ids)], "Lead")
    assert {r.status for r in report.results} == ({200} if operation is Operation.UPDATE else {204})
    assert emulator.api_calls == 1 and emulator.subrequests["query"] == 0


def test_a_thousand_updates_on_email_cost_two_calls(emulator):
    ids = seed_leads(emulator, 1000)
    report = _thousand(emulator, lead(Operation.UPDATE), [person(f"e{i}", f"lead{i}@example.com", title="VP")
                                                          for i in range(1000)], "Lead")
    assert [r.record_id for r in report.results] == ids
    assert emulator.api_calls == 2 and emulator.subrequests["collection_update"] == 5


def test_a_mixed_batch_costs_one_call_per_round(emulator):
    """New leads, independent updates of existing ones, then events that change the new leads' email (an
    overwritten email address may not be merged away: they wait for the create) and events matching the
    changed emails (merged into the email change): two rounds, one call each."""
    seed_leads(emulator, 300)
    events = ([person(f"new{i}", f"fresh{i}@example.com") for i in range(300)]
              + [person(f"old{i}", f"lead{i}@example.com", title="VP") for i in range(300)]
              + [identify_only(f"move{i}", email=f"fresh{i}@example.com", new_email=f"moved{i}@example.com")
                 for i in range(200)]
              + [person(f"after{i}", f"moved{i}@example.com", title="CTO") for i in range(200)])
    action = lead(Operation.UPSERT, mappings=(*LEAD_FIELDS_WITH_PHONE_TITLE[:2], FieldMapping("Email", path("traits.new_email",
                                                                                         "traits.email")),
                                              *LEAD_FIELDS_WITH_PHONE_TITLE[3:]))
    report = _thousand(emulator, action, events, "Lead")
    statuses = [r.status for r in report.results]
    assert statuses == [201] * 300 + [200] * 300 + [200] * 200 + [200] * 200
    # one lookup call, then a call per round: the creates with the independent updates (4 collections); the
    # email changes, each with the later event of its lead folded in (1 collection)
    assert emulator.api_calls == 1 + 2
    assert emulator.calls["composite"] == 3 and emulator.subrequests["collection_update"] == 2 + 1
    moved = {r["Email"]: r["Title"] for r in emulator.org.records("Lead") if r["Email"].startswith("moved")}
    assert len(moved) == 200 and set(moved.values()) == {"CTO"}


def test_a_thousand_events_on_one_new_email_cost_at_most_three_calls(emulator):
    events = [person(f"e{i}", "same@example.com", title=f"T{i}", phone=str(i)) for i in range(1000)]
    report = _thousand(emulator, lead(Operation.UPSERT), events, "Lead")
    assert [r.status for r in report.results] == [201] + [200] * 999
    (record,) = emulator.org.records("Lead")
    assert {r.record_id for r in report.results} == {record["Id"]}
    assert (record["Title"], record["Phone"]) == ("T999", "999")
    assert emulator.api_calls <= 3


def _cascade(emulator, **backend):
    """Email first; then FirstName AND LastName AND Company for the 500 events Email did not find; then create."""
    by_email = seed_leads(emulator, 500, prefix="someone.with.a.long.address.")
    by_name = [emulator.org.seed("Lead", {"FirstName": f"F{i}", "LastName": f"L{i}", "Company": "Acme"})
               for i in range(500, 800)]
    action = replace(lead(Operation.UPSERT), fallback_matchers=(MatcherGroup((
        matcher("FirstName", "traits.first_name"), matcher("LastName", "traits.last_name"),
        matcher("Company", "traits.company")), MatcherOperator.AND),))
    events = [person(f"e{i}", f"someone.with.a.long.address.{i}@example.com", first_name=f"F{i}", last_name=f"L{i}",
                     title="VP") for i in range(1000)]
    with harness(emulator, **backend) as h:
        h.warm("Lead")
        report = h.apply(action, events)
    assert [r.record_id for r in report.results[:800]] == by_email + by_name
    assert [r.matched_group for r in report.results] == (
        ["action.record_matchers"] * 500 + ["action.fallback_matchers[0]"] * 300 + [""] * 200)
    assert [r.status for r in report.results] == [200] * 800 + [201] * 200
    return report


def test_a_cascade_over_a_thousand_events_costs_as_few_lookups_per_group_as_the_uri_allows(emulator):
    _cascade(emulator)
    assert emulator.calls["collection_update"] == 4 and emulator.calls["collection_create"] == 1
    queries = [r.query["q"][0] for r in emulator.requests if r.path.endswith("/query")]
    urls = _query_urls(emulator)
    groups: dict[str, list[str]] = {"Email": [], "FirstName": []}
    by_name_where = ""
    for q, url in zip(queries, urls, strict=True):
        where = q.split(" WHERE ", 1)[1]
        groups["FirstName" if "FirstName" in where else "Email"].append(url)
        by_name_where += where if "FirstName" in where else ""
    # only the 500 events that reached the group
    assert "Email" not in by_name_where and by_name_where.count("LastName = ") == 500
    assert "'L499'" not in by_name_where and "'L500'" in by_name_where and "'L999'" in by_name_where
    for group_urls in groups.values():  # split only to stay under the URI limit
        assert group_urls and all(len(u.encode()) <= soql.DEFAULT_MAX_URL_BYTES for u in group_urls)
        assert sum(len(u.encode()) for u in group_urls) > (len(group_urls) - 1) * soql.DEFAULT_MAX_URL_BYTES / 2
    assert emulator.api_calls == len(urls) + 5 <= 12


def test_a_cascade_over_a_thousand_events_costs_three_calls_over_composite(emulator):
    report = _cascade(emulator, use_composite=True)
    # each group's lookups (split for the URI limit) in one call, the second only for the events that reached
    # it; then the 800 updates and 200 creates: five collections, one call
    assert emulator.api_calls == report.api_calls == 3 and emulator.calls["composite"] == 3
    assert emulator.subrequests["query"] >= 3 and report.describe_calls == 0
    print(f"cascade: {report.api_calls} calls, {emulator.subrequests['query']} queries")
    assert (emulator.subrequests["collection_update"], emulator.subrequests["collection_create"]) == (4, 1)
