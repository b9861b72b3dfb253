"""Any Unicode value reaches the emulator's SOQL parser intact and finds exactly its record; bad names never leave."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.salesforce import SalesforceBackend, SalesforceStore
from core.model import Action, Event, FieldMapping, Operation, Outcome, RecordMatcher, ValueSource
from core.ports import BackendError, FieldIn, Lookup
from core.service import ApplyService
from tests.e2e.salesforce.conftest import refresh_connection
from tools.emulator.server import Emulator

# Salesforce API names, written out independently of core.names: letters, digits, single underscores,
# an optional namespace prefix `ns__` and custom suffix `__c`, at most 80 characters.
_PART = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"
STRICT_NAME = re.compile(rf"(?:{_PART}__)?{_PART}(?:__c)?", re.ASCII)
# Characters SOQL, URLs, JSON or HTTP treat specially, mixed into otherwise arbitrary text.
TRICKY = "'\"\\%_*()=,;:&+#?/ \n\r\t\b\f\v\x00\x1b\x7f\x85\xa0\u2028\u2029\ufeff\U0001f600"
CHARACTERS = st.one_of(st.sampled_from(TRICKY), st.characters(exclude_categories=("Cs",)))
VALUES = st.text(CHARACTERS, max_size=200)
# Arbitrary text, and real names with arbitrary text glued on ("Email OR Id != null", "_Ext__c", "Company'").
NEAR_MISSES = st.builds(lambda name, junk, front: junk + name if front else name + junk,
                        st.sampled_from(["Email", "Company", "Ext__c", "ns__Score__c", "Id"]),
                        st.text(CHARACTERS, min_size=1, max_size=12), st.booleans())
NAMES = st.one_of(st.text(CHARACTERS, max_size=90), NEAR_MISSES, st.just("x" * 81)).filter(
    lambda name: STRICT_NAME.fullmatch(name) is None or len(name) > 80)
_serial = itertools.count()
# Generated values (and names) per property: make test tries 100, make soak 2,000 (SOQL_PROPERTY_EXAMPLES=2000).
EXAMPLES = int(os.environ.get("SOQL_PROPERTY_EXAMPLES", "100"))

UPDATE_BY_COMPANY = Action(
    "Lead", Operation.UPDATE,
    record_matchers=(RecordMatcher("Company", ValueSource.of_path("traits.company")),),
    field_mappings=(FieldMapping("Title", ValueSource.of_path("traits.title")),))


@dataclass
class Org:
    emulator: Emulator
    backend: SalesforceBackend
    plain_conditions: int

    def store(self) -> SalesforceStore:
        return self.backend.open(refresh_connection(self.emulator))

    def apply(self, company: str, title: str):
        event = Event("e1", {"traits": {"company": company, "title": title}})
        return ApplyService(self.backend).apply(refresh_connection(self.emulator), UPDATE_BY_COMPANY, [event])


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    """One emulator and one backend for every example: each example costs one query and one update."""
    emulator = Emulator().start()
    backend = SalesforceBackend(allow_loopback_http=True)
    plain = "Acme Corporation"
    rid = emulator.org.seed("Lead", {"LastName": "Plain", "Company": plain})
    [result] = Org(emulator, backend, 0).apply(plain, "plain").results
    assert (result.status, result.record_id) == (200, rid)
    yield Org(emulator, backend, emulator.last_queries[-1].condition_count)
    backend.close()
    emulator.stop()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES)
def test_any_string_matcher_value_updates_exactly_the_record_holding_it(org, value):
    # A serial prefix per example: SOQL `=` ignores case, so two generated values may otherwise collide.
    company = f"{next(_serial):05d}|{value}"
    rid = org.emulator.org.seed("Lead", {"LastName": "Prop", "Company": company})
    stored = org.emulator.org.get("Lead", rid, ["Company"])["Company"]  # saved text loses outer whitespace
    report = ApplyService(org.backend).apply(refresh_connection(org.emulator), UPDATE_BY_COMPANY, [
        Event("e1", {"traits": {"company": company, "title": "matched"}})])
    [result] = report.results
    assert (result.status, result.outcome, result.record_id) == (200, Outcome.UPDATED, rid)
    query = org.emulator.last_queries[-1]
    assert query.condition_count == org.plain_conditions == 1
    assert query.values == [stored] and stored == company.strip("".join(map(chr, range(0x21))))
    assert org.emulator.org.get("Lead", rid, ["Company", "Title"]) == {"Id": rid, "Company": stored,
                                                                       "Title": "matched"}


@settings(max_examples=EXAMPLES, deadline=None)
@given(name=NAMES)
def test_field_names_outside_the_strict_pattern_are_refused_before_any_request(org, name):
    store = org.store()
    sent = len(org.emulator.requests)
    with pytest.raises(BackendError) as refused:
        store.find(Lookup("Lead", ("Id",), ((FieldIn(name, ("x",)),),)))
    assert refused.value.error.code == "INVALID_FIELD"
    with pytest.raises(BackendError) as refused:
        store.find(Lookup("Lead", ("Id", name), ((FieldIn("Email", ("x@example.com",)),),)))
    assert refused.value.error.code == "INVALID_FIELD"
    with pytest.raises(BackendError) as refused:
        store.find(Lookup(name, ("Id",), ((FieldIn("Email", ("x@example.com",)),),)))
    assert refused.value.error.code == "INVALID_TYPE"
    [created] = store.create("Lead", [{"LastName": "Ng", "Company": "Acme", name: "x"}])
    assert not created.success and created.error.code == "INVALID_FIELD"
    [updated] = store.update("Lead", [("00QHs00000LmNoPMAV", {name: "x"})])
    assert not updated.success and updated.error.code == "INVALID_FIELD"
    with pytest.raises(BackendError) as refused:
        store.upsert("Lead", name, [{"LastName": "Ng", "Company": "Acme", name: "x"}])
    assert refused.value.error.code == "INVALID_FIELD"
    assert len(org.emulator.requests) == sent and store.api_calls == 0
