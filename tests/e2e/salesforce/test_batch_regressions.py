"""Regressions over the REST adapter: uncertain creates, and Bulk versus Collections (review findings)."""

from adapters.memory.org import Org
from core.credentials import OAuthRefreshToken
from core.model import Action, Connection, Operation
from core.service import ApplyService
from tests.builders import identify_only, mapping, matcher
from tests.contract.test_batch_regressions import summary
from tools.emulator.server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN


def _sf(emulator, backend_factory, **kw):
    conn = Connection(emulator.base_url, credentials=OAuthRefreshToken(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN))
    return conn, ApplyService(backend_factory(bulk_poll_seconds=(0.001, 0.01), **kw))


def test_an_uncertain_create_is_not_followed_by_a_second_create_of_the_same_key(emulator, backend_factory):
    conn, svc = _sf(emulator, backend_factory)
    act = Action("Lead", Operation.UPSERT, (matcher("Email", "traits.email"),), None,
                 (mapping("LastName", "traits.ln"), mapping("Company", "traits.co"), mapping("Title", "traits.title")))
    svc.apply(conn, act, [identify_only(0, email="warm@x.com", ln="W", co="C")])
    emulator.drop_connection_next(1, "after", call="collection_create")  # committed, answer lost
    rep = svc.apply(conn, act, [identify_only(1, email="new@x.com", ln="A", co="C"),
                                identify_only(2, email="new@x.com", title="T2", ln="A", co="C")])
    assert rep.results[0].error.code == "OUTCOME_UNKNOWN"
    # event 2 was folded into event 1's create (core.merging): its values rode in the uncertain write
    assert (rep.results[1].status, rep.results[1].retryable) == (502, False)
    assert rep.results[1].error.code == "OUTCOME_UNKNOWN"
    dupes = [r for r in emulator.org.records("Lead") if r["Email"] == "new@x.com"]
    assert len(dupes) == 1, f"event 2 created a second Lead ({summary(rep)})"


def test_an_event_waiting_on_an_uncertain_create_is_not_attempted(emulator, backend_factory):
    conn, svc = _sf(emulator, backend_factory)
    act = Action("Lead", Operation.UPSERT, (matcher("Email", "traits.email"),), None,
                 (mapping("LastName", "traits.ln"), mapping("Company", "traits.co"), mapping("Title", "traits.title")))
    svc.apply(conn, act, [identify_only(0, email="warm@x.com", ln="W", co="C")])
    emulator.drop_connection_next(1, "after", call="collection_create")  # committed, answer lost
    # event 2 overwrites a title the org would refuse: it cannot be folded in, so it waits for event 1
    rep = svc.apply(conn, act, [identify_only(1, email="new@x.com", ln="A", co="C", title="T" * 200),
                                identify_only(2, email="new@x.com", title="T2", ln="A", co="C")])
    assert rep.results[0].error.code == "OUTCOME_UNKNOWN"
    assert (rep.results[1].status, rep.results[1].retryable) == (504, True)
    assert rep.results[1].error.code == "DEPENDS_ON_UNCERTAIN_WRITE"
    assert len([r for r in emulator.org.records("Lead") if r["Email"] == "new@x.com"]) <= 1


def test_bulk_writes_a_literal_hash_na_string_like_collections(emulator, backend_factory):
    act = Action("Lead", Operation.UPDATE, (matcher("Email", "traits.email"),), None, (mapping("Description", "traits.d"),))
    seen = {}
    for name in ("collections", "bulk"):
        emulator.org = Org()
        emulator.org.seed("Lead", {"LastName": "L", "Company": "C", "Email": "e@x.com", "Description": "keep"})
        conn, svc = _sf(emulator, backend_factory, write_path=name)
        svc.apply(conn, act, [identify_only(1, email="e@x.com", d="#N/A")])
        seen[name] = emulator.org.records("Lead")[0]["Description"]
    assert seen["bulk"] == seen["collections"] == "#N/A", seen
