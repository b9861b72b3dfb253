"""The in-memory RecordStore: tenants, Salesforce's call counting, and per-record outcomes through the port."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.memory.store import MemoryBackend, tenant_key
from core.model import ApiUsage, Connection, ResultError
from core.paths import CONNECTION
from core.ports import BackendError, FieldIn, Lookup, RecordRefusal, WriteBatch
from core.salesforce_answers import read

ACME = Connection("https://acme.my.salesforce.com")
GLOBEX = Connection("https://globex.my.salesforce.com")


def lead(last="Ng", **extra):
    return {"LastName": last, "Company": "Acme", **extra}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def backend():
    return MemoryBackend()


def test_tenants_never_see_each_others_records(backend):
    backend.open(ACME).create("Lead", [lead(Email="shared@x.com")])
    lookup = Lookup("Lead", ("Id",), ((FieldIn("Email", ("shared@x.com",)),),))
    assert backend.open(GLOBEX).find(lookup) == []
    assert len(backend.open(ACME).find(lookup)) == 1


def test_instance_urls_name_tenants_regardless_of_case_and_trailing_slash(backend):
    backend.open(Connection("HTTPS://Acme.My.Salesforce.com/")).create("Lead", [lead()])
    assert len(backend.org("https://acme.my.salesforce.com").records("Lead")) == 1
    assert tenant_key("https://Acme.my.salesforce.com/") == "https://acme.my.salesforce.com"


@pytest.mark.parametrize("url", ["", "   "])
def test_an_empty_instance_url_is_an_invalid_connection(backend, url):
    with pytest.raises(BackendError) as exc:
        backend.open(Connection(url))
    assert exc.value.error == ResultError("INVALID_CONNECTION", "connection.instance_url is required",
                                          paths=(CONNECTION.field("instance_url"),))


def test_writes_take_one_call_per_five_chunks_of_200_records(backend):
    store = backend.open(ACME)
    created = store.create("Lead", [lead() for _ in range(1001)])
    assert store.api_calls == 2 and all(o.success for o in created)  # six chunks: five to a call
    ids = [o.id for o in created]
    store.update("Lead", [(rid, {"FirstName": "x"}) for rid in ids[:200]])
    assert store.api_calls == 3
    store.delete("Lead", ids[:201])
    assert store.api_calls == 4
    store.upsert("Subscription__c", "External_Id__c", [{"External_Id__c": str(i)} for i in range(10)])
    assert store.api_calls == 5
    assert store.create("Lead", []) == [] and store.api_calls == 5
    outcomes = store.write("Lead", [WriteBatch("create", [lead()] * 450), WriteBatch("delete", ids[201:401])])
    assert [len(o) for o in outcomes] == [450, 200] and store.api_calls == 6  # four chunks of two kinds


def test_find_takes_one_call_per_2000_record_page(backend):
    store = backend.open(ACME)
    store.create("Lead", [lead(Company="Big") for _ in range(2001)])
    before = store.api_calls
    found = store.find(Lookup("Lead", ("Id",), ((FieldIn("Company", ("big",)),),)))
    assert len(found) == 2001 and store.api_calls - before == 2
    store.find(Lookup("Lead", ("Id",), ((FieldIn("Company", ("nobody",)),),)))
    assert store.api_calls - before == 3


def test_describe_costs_one_call_then_is_cached_for_the_ttl():
    clock = FakeClock()
    backend = MemoryBackend(describe_ttl=60, clock=clock)
    first = backend.open(ACME)
    assert first.describe("Lead").name == "Lead" and first.api_calls == 1
    second = backend.open(ACME)
    second.describe("lead")
    assert second.api_calls == 0
    clock.now += 61
    second.describe("Lead")
    assert second.api_calls == 1
    globex = backend.open(GLOBEX)
    globex.describe("Lead")
    assert globex.api_calls == 1  # another tenant has its own cache


def test_describe_of_an_unknown_object_is_a_backend_error(backend):
    with pytest.raises(BackendError) as exc:
        backend.open(ACME).describe("Leed")
    assert exc.value.error.code == "NOT_FOUND"


def test_per_record_failures_never_fail_neighbours(backend):
    outcomes = backend.open(ACME).create("Lead", [lead(), {"Company": "x"}, lead(last="x" * 81), lead()])
    assert [o.success for o in outcomes] == [True, False, False, True]
    assert outcomes[1].refusal == RecordRefusal("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]",
                                                ("LastName",))
    assert outcomes[2].refusal.code == "STRING_TOO_LONG"


def test_upsert_reports_created_and_several_matches(backend):
    store = backend.open(ACME)
    [a, b] = store.create("Lead", [lead(Email="dup@x.com"), lead(Email="dup@x.com")])
    outcomes = store.upsert("Lead", "Email", [lead(Email="DUP@x.com"), lead(Email="new@x.com")])
    assert not outcomes[0].success and outcomes[0].refusal.code == "DUPLICATE_EXTERNAL_ID"
    assert read(outcomes[0], "upsert", "Lead", "Email").error.code == "MULTIPLE_MATCHES"  # what core reads in it
    assert sorted(outcomes[0].matched_ids) == sorted([a.id, b.id])
    assert outcomes[1].success and outcomes[1].created


def test_upsert_on_a_field_that_is_no_key_fails_every_record(backend):
    outcomes = backend.open(ACME).upsert("Lead", "Company", [lead(), lead()])
    assert [o.refusal.code for o in outcomes] == ["NOT_FOUND", "NOT_FOUND"]


def test_failed_updates_carry_the_record_id(backend):
    store = backend.open(ACME)
    [a] = store.create("Lead", [lead()])
    store.delete("Lead", [a.id])
    [outcome] = store.update("Lead", [(a.id, {"FirstName": "x"})])
    assert (outcome.success, outcome.id, outcome.refusal.code) == (False, a.id, "ENTITY_IS_DELETED")


def test_api_usage_is_org_wide_and_known_after_a_call():
    backend = MemoryBackend(daily_limit=5000)
    first = backend.open(ACME)
    assert first.api_usage is None
    first.create("Lead", [lead()])
    second = backend.open(ACME)
    second.create("Lead", [lead()])
    assert second.api_usage == ApiUsage(2, 5000)


def test_a_spent_daily_allocation_refuses_calls():
    backend = MemoryBackend(daily_limit=2)
    store = backend.open(ACME)
    outcomes = store.create("Lead", [lead() for _ in range(2100)])
    assert [o.success for o in outcomes].count(True) == 2000  # two calls of five chunks; the third refused
    assert outcomes[-1].error == ResultError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    with pytest.raises(BackendError) as exc:
        store.find(Lookup("Lead", ("Id",), ()))
    assert exc.value.error.code == "REQUEST_LIMIT_EXCEEDED"
    assert store.api_calls == 2 and store.api_usage == ApiUsage(2, 2)


def test_planted_call_failures_fail_a_whole_call(backend):
    unavailable = ResultError("SERVER_UNAVAILABLE", "server is unavailable")
    backend.tenant(ACME.instance_url).fail_calls(unavailable)
    store = backend.open(ACME)
    first = store.create("Lead", [lead(), lead()])
    assert [o.error for o in first] == [unavailable, unavailable]
    assert all(o.success for o in store.create("Lead", [lead()]))
    assert len(backend.org(ACME.instance_url).records("Lead")) == 1


def test_a_passed_deadline_makes_no_call(backend):
    store = backend.open(ACME, deadline=time.monotonic() - 1)
    with pytest.raises(BackendError) as exc:
        store.describe("Lead")
    assert exc.value.error.code == "DEADLINE_EXCEEDED" and store.api_calls == 0


def test_the_backend_is_safe_across_threads(backend):
    tenants = [Connection(f"https://t{n % 2}.my.salesforce.com") for n in range(8)]
    ids: list[str] = []
    guard = threading.Lock()

    def work(conn):
        outcomes = backend.open(conn).create("Lead", [lead() for _ in range(1100)])
        with guard:
            ids.extend(o.id for o in outcomes if o.success)

    threads = [threading.Thread(target=work, args=(c,)) for c in tenants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == len(set(ids)) == 8800
    assert [len(backend.org(f"https://t{n}.my.salesforce.com").records("Lead")) for n in (0, 1)] == [4400, 4400]
    assert backend.tenant("https://t0.my.salesforce.com").used == 8  # 4 stores x 2 calls (five chunks, then one)


def test_writes_to_an_unknown_object_fail_every_record(backend):
    outcomes = backend.open(ACME).create("Leed", [lead(), lead()])
    assert [o.refusal.code for o in outcomes] == ["INVALID_TYPE", "INVALID_TYPE"]
