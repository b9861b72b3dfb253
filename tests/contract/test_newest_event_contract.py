"""Newest event wins (Action.newest_event_wins) on one replica: the same semantics with the in-process stamps
and with Redis's (a real redis-server), over every record store adapter."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import pytest

from adapters.coordination.local import LocalKeyLeases, LocalNewestEvents
from adapters.coordination.redis_leases import RedisKeyLeases
from adapters.coordination.redis_ordering import RedisNewestEvents
from core.model import Event, Operation, Outcome
from core.ordering import NewestEvents, stamp
from core.ports import FieldIn, Lookup
from core.service import ApplyService, ValidateService
from tests.builders import identify, lead_action

NS = 1_000_000_000
UPSERT = replace(lead_action(Operation.UPSERT), newest_event_wins=True)


def _redis(request) -> tuple[RedisKeyLeases, RedisNewestEvents]:
    client = request.getfixturevalue("redis_server").client()
    client.flushall()
    return RedisKeyLeases(client), RedisNewestEvents(client)


COORDINATION: dict[str, Callable] = {"local": lambda request: (LocalKeyLeases(), LocalNewestEvents()),
                                     "redis": _redis}


@pytest.fixture(params=sorted(COORDINATION))
def coordination(request):
    return COORDINATION[request.param](request)


def event(event_id: str, email: str, name: str, at_seconds: int | None) -> Event:
    e = identify(event_id, email=email, last_name=name)
    return replace(e, timestamp_ns=None if at_seconds is None else at_seconds * NS)


def last_names(backend, conn, emails) -> dict[str, str]:
    store = backend.factory.open(conn)
    found = store.find(Lookup("Lead", ("Id", "Email", "LastName"), ((FieldIn("Email", tuple(emails)),),)))
    return {str(r["Email"]).lower(): r["LastName"] for r in found}


def test_an_older_event_arriving_later_is_stale_skipped_naming_the_winner(backend, coordination):
    leases, newest = coordination
    service, conn = ApplyService(backend.factory, leases, newest=newest), backend.connection_for("acme")
    [first] = service.apply(conn, UPSERT, [event("new", "ann@example.com", "Newest", 20)]).results
    assert first.status == 201
    [late] = service.apply(conn, UPSERT, [event("old", "Ann@Example.com", "Older", 10)]).results
    assert (late.status, late.outcome, late.winning_event_id, late.retryable) == (200, Outcome.STALE_SKIPPED,
                                                                                   "new", False)
    [again] = service.apply(conn, UPSERT, [event("new", "ann@example.com", "Newest", 20)]).results
    assert (again.status, again.outcome) == (200, Outcome.UPDATED)  # the winner retried: written again
    [newer] = service.apply(conn, UPSERT, [event("newer", "ann@example.com", "Newer", 30)]).results
    assert newer.status == 200 and newer.outcome is Outcome.UPDATED
    assert last_names(backend, conn, ["ann@example.com"]) == {"ann@example.com": "Newer"}


def test_within_a_batch_only_the_newest_event_of_a_record_is_written(backend, coordination):
    leases, newest = coordination
    service, conn = ApplyService(backend.factory, leases, newest=newest), backend.connection_for("acme")
    events = [event("b1", "bo@example.com", "B1", 1), event("c5", "cy@example.com", "C5", 5),
              event("b3", "BO@example.com", "B3", 3), event("b2", "bo@example.com", "B2", 2),
              event("a-tie", "cy@example.com", "TieA", 5)]
    results = service.apply(conn, UPSERT, events).results
    assert [(r.outcome, r.winning_event_id) for r in results] == [
        (Outcome.STALE_SKIPPED, "b3"), (Outcome.CREATED, ""), (Outcome.CREATED, ""), (Outcome.STALE_SKIPPED, "b3"),
        (Outcome.STALE_SKIPPED, "c5")]  # equal timestamps: the greater event id wins, on every replica alike
    assert last_names(backend, conn, ["bo@example.com", "cy@example.com"]) == {
        "bo@example.com": "B3", "cy@example.com": "C5"}


def test_shuffled_events_end_at_the_newest_values(backend, coordination):
    leases, newest = coordination
    service, conn = ApplyService(backend.factory, leases, newest=newest), backend.connection_for("acme")
    keys, per_key = 8, 5
    events = [event(f"k{k}-t{t}", f"k{k}@example.com", f"K{k}T{t}", t) for k in range(keys) for t in range(per_key)]
    random.Random(7).shuffle(events)
    applied: dict[str, int] = {}
    for start in range(0, len(events), 6):
        batch = events[start:start + 6]
        for e, r in zip(batch, service.apply(conn, UPSERT, batch).results, strict=True):
            key, ts = e.payload["traits"]["email"], e.timestamp_ns or 0
            if r.outcome is Outcome.STALE_SKIPPED:
                assert r.winning_event_id and r.winning_event_id != e.id
            else:
                assert r.status in (200, 201) and ts > applied.get(key, -1)
                applied[key] = ts
    assert last_names(backend, conn, [f"k{k}@example.com" for k in range(keys)]) == {
        f"k{k}@example.com": f"K{k}T{per_key - 1}" for k in range(keys)}


def test_an_event_without_timestamp_is_invalid_and_dry_run_stores_nothing(backend, coordination):
    leases, newest = coordination
    service, conn = ApplyService(backend.factory, leases, newest=newest), backend.connection_for("acme")
    [missing] = service.apply(conn, UPSERT, [event("none", "di@example.com", "D", None)]).results
    assert (missing.status, missing.error.code) == (400, "EVENT_TIMESTAMP_MISSING")
    [plan] = service.apply(conn, UPSERT, [event("d9", "di@example.com", "D9", 9)], dry_run=True).results
    assert plan.outcome is Outcome.WOULD_CREATE
    [done] = service.apply(conn, UPSERT, [event("d5", "di@example.com", "D5", 5)]).results
    assert done.status == 201  # the dry run stored no stamp: an older event is still written


def test_validate_and_apply_refuse_ordering_without_record_matchers(backend):
    create = replace(lead_action(Operation.CREATE), newest_event_wins=True)
    conn = backend.connection_for("acme")
    [result] = ApplyService(backend.factory, newest=LocalNewestEvents()).apply(
        conn, create, [event("c", "e@example.com", "E", 1)]).results
    assert (result.status, result.error.code) == (400, "INVALID_ACTION")
    codes = [d.code for d in ValidateService(backend.factory).validate(create, conn).diagnostics]
    assert "ORDERING_NEEDS_RECORD_MATCHERS" in codes
    [unkept] = ApplyService(backend.factory).apply(conn, UPSERT, [event("u", "e@example.com", "E", 1)]).results
    assert unkept.error.code == "INVALID_ACTION"  # a service without stamps never ignores the option silently


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_stamps_only_move_forward(request, kind):
    store: NewestEvents = COORDINATION[kind](request)[1]
    store.advance({"k": stamp(5, "b")}, 60)
    store.advance({"k": stamp(4, "z"), "j": stamp(1, "a")}, 60)  # older: kept out
    assert store.newest(["k", "j", "none"]) == [stamp(5, "b"), stamp(1, "a"), None]
    store.advance({"k": stamp(5, "c")}, 60)  # the same instant, a greater id
    assert store.newest(["k"]) == [stamp(5, "c")]
    assert stamp(10, "a") > stamp(9, "zzz") and stamp(10, "ab") > stamp(10, "a")
