"""Many events for one record: one write when that changes no result, separate writes (or a split) when it would."""

from __future__ import annotations

import pytest

from adapters.memory.ids import IdFactory
from adapters.memory.org import Org
from adapters.memory.store import MemoryBackend
from core.model import Action, Operation
from core.service import ApplyService
from tests.builders import identify_only, mapping, matcher
from tests.contract.test_batch_regressions import CONN, URL

LEAD = (mapping("LastName", "traits.ln"), mapping("Company", "traits.co"), mapping("Email", "traits.email"),
        mapping("Title", "traits.title"), mapping("Phone", "traits.phone"))
UPSERT = Action("Lead", Operation.UPSERT, (matcher("Email", "traits.email"),), None, LEAD)
BY_ID = Action("Lead", Operation.UPDATE, (matcher("Id", "traits.id"),), None, LEAD)
LONG = "x" * 200  # Lead.Title holds 128 characters: the org refuses it


def person(i, **traits):
    return identify_only(i, ln="Ng", co="Acme", email="ann@example.com", **traits)


def _backend(seed=()):
    backend = MemoryBackend()
    backend.tenant(URL).org = Org(ids=IdFactory(start=1000))  # the same ids in every backend
    for record in seed:
        backend.org(URL).seed("Lead", record)
    return backend


def run(action, events, dry_run=False, seed=()):
    backend = _backend(seed)
    service = ApplyService(backend)
    service.apply(CONN, action, [])  # the describe, cached: not part of what is counted below
    before = backend.tenant(URL).used
    report = service.apply(CONN, action, events, dry_run=dry_run)
    shown = [(r.status, r.outcome.name, r.error.code if r.error else "") for r in report.results]
    return shown, [r.record_id for r in report.results], backend.org(URL).records("Lead"), (
        backend.tenant(URL).used - before)


def one_by_one(action, events, seed=()):
    backend = _backend(seed)
    service = ApplyService(backend)
    results = [service.apply(CONN, action, [e]).results[0] for e in events]
    return [(r.status, r.outcome.name, r.error.code if r.error else "") for r in results], backend.org(URL).records(
        "Lead")


SEED = ({"LastName": "Ng", "Company": "Acme", "Email": "ann@example.com"},)
SEEDED_ID = _backend(SEED).org(URL).ids_matching("Lead", "Email", "ann@example.com")[0]


def test_a_create_and_its_updates_are_one_create_with_the_last_values():
    events = [person(0, title="A", phone="1"), person(1, title="B"), identify_only(2, email="ann@example.com", phone="3")]
    shown, ids, records, calls = run(UPSERT, events)
    assert shown == [(201, "CREATED", ""), (200, "UPDATED", ""), (200, "UPDATED", "")]
    (lead,) = records
    assert set(ids) == {lead["Id"]} and (lead["Title"], lead["Phone"]) == ("B", "3")
    assert calls == 2  # the lookup, and one write
    assert shown == one_by_one(UPSERT, events)[0]


def test_an_overwritten_value_the_org_could_refuse_keeps_its_own_write():
    events = [person(0, title="A"), person(1, title=LONG), person(2, title="C")]
    shown, _, records, calls = run(UPSERT, events)
    expected, after = one_by_one(UPSERT, events)
    assert shown == expected == [(201, "CREATED", ""), (422, "REJECTED", "STRING_TOO_LONG"), (200, "UPDATED", "")]
    assert [r["Title"] for r in records] == [r["Title"] for r in after] == ["C"]


def test_a_merged_write_refused_for_a_value_is_split_until_each_event_has_its_own_result():
    events = [person(0, title="A"), person(1, phone="2"), person(2, title=LONG)]
    shown, _, records, _ = run(UPSERT, events)
    expected, after = one_by_one(UPSERT, events)
    assert shown == expected == [(201, "CREATED", ""), (200, "UPDATED", ""), (422, "REJECTED", "STRING_TOO_LONG")]
    assert [(r["Title"], r["Phone"]) for r in records] == [(r["Title"], r["Phone"]) for r in after] == [("A", "2")]


@pytest.mark.parametrize("change", [{"email": "bob@example.com"}, {"co": None}])
def test_an_overwritten_email_or_a_required_field_cleared_is_never_merged_away(change):
    rid = SEEDED_ID
    events = [identify_only(0, id=rid, **change), identify_only(1, id=rid, email="carl@example.com", co="Beta")]
    shown, _, records, _ = run(BY_ID, events, seed=SEED)
    assert shown == one_by_one(BY_ID, events, seed=SEED)[0]
    assert shown[0][0] == (200 if "email" in change else 422)


def test_updates_by_id_of_one_record_are_one_write():
    rid = SEEDED_ID
    events = [identify_only(i, id=rid, title=f"T{i}", phone=str(i)) for i in range(500)] + [identify_only(500, id=rid)]
    shown, ids, records, calls = run(BY_ID, events, seed=SEED)
    assert shown == [(200, "UPDATED", "")] * 500 + [(204, "NO_CHANGE", "")]
    assert set(ids) == {rid} and (records[0]["Title"], records[0]["Phone"]) == ("T499", "499")
    assert calls == 1


def test_a_dry_run_predicts_the_merged_run():
    events = [person(0, title="A"), person(1, title="B"), identify_only(2, email="ann@example.com")]
    planned, _, records, calls = run(UPSERT, events, dry_run=True)
    assert planned == [(201, "WOULD_CREATE", ""), (200, "WOULD_UPDATE", ""), (200, "WOULD_UPDATE", "")]
    assert records == [] and calls == 1
    assert [s[0] for s in run(UPSERT, events)[0]] == [201, 200, 200]
