"""Salesforce API calls per batch, counted at the emulator (token requests are not API calls)."""

from __future__ import annotations

import math

import pytest

from adapters.salesforce import soql
from core.model import MatcherOperator, Operation
from tests.batch.helpers import (
    SUB,
    by_id,
    harness,
    identify,
    lead,
    matcher,
    person,
    seed_leads,
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
    events = [identify(f"e{i}", lead_id=rid, title="CEO") for i, rid in enumerate(ids)]
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
