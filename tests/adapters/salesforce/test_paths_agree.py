"""One event per Apply, one Apply over Collections, over Composite, over Bulk: the same results and the same org
after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adapters.memory.ids import IdFactory
from adapters.memory.org import Org
from core.model import Action, Event, Operation
from tests.adapters.salesforce.harness import harness
from tests.builders import SUB, by_id, identify_only, lead, person, subscription_upsert, track

ONE_EVENT, COLLECTIONS, COMPOSITE, BULK = "one event per Apply", "collections", "composite", "bulk"
THRESHOLDS = {ONE_EVENT: 10**9, COLLECTIONS: 10**9, COMPOSITE: 10**9, BULK: 1}
LEAD_STATE = ("FirstName", "LastName", "Company", "Email", "Phone", "Title")


def _seed(org: Org) -> str:
    """Leads (two sharing an email), a Subscription, and a deleted Lead, whose id this returns."""
    for i, (email, phone, title) in enumerate([("ann@example.com", "1", "Old"), ("bob@example.com", None, "Old"),
                                               ("dup@example.com", "3", None), ("DUP@example.com", "4", None),
                                               ("gone@example.com", None, None)]):
        org.seed("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": email, "Phone": phone, "Title": title})
    org.seed(SUB, {"External_Id__c": "S-OLD", "Plan__c": "old", "Seats__c": 3})
    gone = org.ids_matching("Lead", "Email", "gone@example.com")[0]
    org.delete("Lead", gone)
    return gone


def _lead_id(org: Org, email: str) -> str:
    return org.ids_matching("Lead", "Email", email)[0]


def _create() -> tuple[Action, list[Event]]:
    return lead(Operation.CREATE), [
        person("ok", "new1@example.com", title="CTO", first_name=None),
        person("bad-email", "nope"), person("too-long", "x@example.com", last_name="L" * 81),
        person("no-company", "y@example.com", company=None), person("same", "new1@example.com", phone="7")]


def _update_on_email() -> tuple[Action, list[Event]]:
    return lead(Operation.UPDATE), [
        person("title", "ANN@example.com", title="CEO"), identify_only("phone-null", email="ann@example.com", phone=None),
        identify_only("absent", email="bob@example.com", first_name="Bo"), person("ambiguous", "dup@example.com"),
        person("missing", "who@example.com"), identify_only("required-null", email="bob@example.com", company=None),
        identify_only("empty-title", email="bob@example.com", title="")]


def _upsert_on_email() -> tuple[Action, list[Event]]:
    return lead(Operation.UPSERT), [
        person("existing", "ann@example.com", phone="9"), person("new", "new2@example.com", title="A"),
        identify_only("new-again", email="NEW2@example.com", phone="8"), person("ambiguous", "dup@example.com"),
        person("bad", "bad@example.com", last_name="L" * 81), identify_only("new-no-name", email="z@example.com")]


def _upsert_on_external_id() -> tuple[Action, list[Event]]:
    return subscription_upsert(), [
        track("old", sub_id="s-old", plan="gold"), track("new", sub_id="S-NEW", seats=2),
        track("new-again", sub_id="S-NEW", plan=None), track("long", sub_id="S-LONG", plan="p" * 81),
        track("empty-key", sub_id="")]


Scenario = Callable[[Org, str], tuple[Action, list[Event]]]


def _by_id(operation: Operation) -> Scenario:
    def build(org: Org, gone: str) -> tuple[Action, list[Event]]:
        ann, bob = _lead_id(org, "ann@example.com"), _lead_id(org, "bob@example.com")
        events = [identify_only("ann", lead_id=ann, title="By id"), identify_only("bob", lead_id=bob, phone="5"),
                  identify_only("again", lead_id=ann, first_name="Second"), identify_only("deleted", lead_id=gone, title="x"),
                  identify_only("never", lead_id="00QHs00000zzzzz", title="x")]
        return by_id(operation), events
    return build


SCENARIOS: dict[str, Scenario] = {
    "create": lambda org, gone: _create(), "update on Email": lambda org, gone: _update_on_email(),
    "upsert on Email": lambda org, gone: _upsert_on_email(),
    "upsert on an external id": lambda org, gone: _upsert_on_external_id(),
    "update by Id": _by_id(Operation.UPDATE), "delete by Id": _by_id(Operation.DELETE),
}


def _run(emulator_factory, scenario: str, path: str) -> tuple[list[tuple[Any, ...]], Any]:
    emu = emulator_factory(org=Org(ids=IdFactory(start=0)))
    action, events = SCENARIOS[scenario](emu.org, _seed(emu.org))
    with harness(emu, THRESHOLDS[path], use_composite=path == COMPOSITE) as h:
        results = h.apply_one_by_one(action, events) if path == ONE_EVENT else list(h.apply(action, events).results)
    if path == BULK:
        assert emu.bulk_calls > 0 and not any(k.startswith("collection_") for k in emu.calls)
    if path == COMPOSITE:
        assert emu.calls["composite"] > 0 and not any(k.startswith("collection_") for k in emu.calls)
    shown = [(r.event_id, r.status, r.outcome.name, r.retryable, r.error and r.error.code, r.error and r.error.fields,
              len(r.matched_ids)) for r in results]
    leads = sorted(tuple(str(r.get(f)) for f in LEAD_STATE) for r in emu.org.records("Lead"))
    subs = sorted(tuple(str(r.get(f)) for f in ("External_Id__c", "Plan__c", "Seats__c")) for r in emu.org.records(SUB))
    return shown, (leads, subs)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_path_gives_the_same_results_and_leaves_the_same_org(emulator_factory, scenario):
    one_event = _run(emulator_factory, scenario, ONE_EVENT)
    assert _run(emulator_factory, scenario, COLLECTIONS) == one_event
    assert _run(emulator_factory, scenario, COMPOSITE) == one_event
    assert _run(emulator_factory, scenario, BULK) == one_event
    statuses = {s[1] for s in one_event[0]}
    assert len(statuses) > 1, f"{scenario} should mix outcomes: {statuses}"
