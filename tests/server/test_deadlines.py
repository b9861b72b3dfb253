"""Deadlines end to end: an Apply that runs out of time returns what it finished, the rest 504 NOT_ATTEMPTED."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from core.ports import WriteOutcome
from server.local import LocalContext
from server.servicer import core_deadline
from tests.builders import INSTANCE, apply_request, identify_message, lead_create, local_settings
from tests.server.calls import TestServer

CHUNK, DELAY = 5, 0.1  # the slow store: 5 records per call, 0.1 s a call
EVENTS = 200  # 40 calls, 4 s: more than the deadline below allows


class SlowStore:
    """A memory store whose writes go CHUNK records per call and take DELAY each, as a slow org's would.

    The memory store refuses a call once the deadline has passed (nothing sent, DEADLINE_EXCEEDED).
    """

    def __init__(self, inner: Any):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:  # describe, find, api_calls, api_usage: as the memory store
        return getattr(self._inner, name)

    def _slowly(self, method: str, object_name: str, records: Sequence[Any]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(records), CHUNK):
            chunk = getattr(self._inner, method)(object_name, records[start:start + CHUNK])
            if any(o.error is None or o.error.code != "DEADLINE_EXCEEDED" for o in chunk):
                threading.Event().wait(DELAY)  # a call made: its answer takes a while (one refused takes none)
            outcomes += chunk
        return outcomes

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[WriteOutcome]:
        return self._slowly("create", object_name, records)

    def write_batches(self, batches: Sequence[Any]) -> list[list[WriteOutcome]]:
        return [self._slowly(b.kind, b.object_name, b.items) for b in batches]

    def update(self, object_name: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteOutcome]:
        return self._slowly("update", object_name, records)


class SlowBackend:
    def __init__(self) -> None:
        self.memory = MemoryBackend()

    def open(self, connection: Any, deadline: float | None = None, stop: Any = None) -> SlowStore:
        return SlowStore(self.memory.open(connection, deadline, stop))


def _lead_ids(backend: SlowBackend) -> set[str]:
    return {r["Id"] for r in backend.memory.org(INSTANCE).records("Lead")}


def test_an_apply_out_of_time_returns_what_it_wrote_and_marks_the_rest_retryable(start):
    backend = SlowBackend()
    # A client deadline of 3 s; the server keeps back 0.5 s + 20 % = 1.1 s, so writes stop after about 1.9 s.
    _, channel = start(backend, deadline_margin_seconds=0.5, deadline_margin_fraction=0.2)
    request = apply_request(lead_create(), *(identify_message(f"e{i}", f"p{i}@x.io") for i in range(EVENTS)))
    response = destination_pb2_grpc.DestinationServiceStub(channel).Apply(request, timeout=3.0)  # no RpcError

    results = list(response.results)
    assert [r.event_id for r in results] == [f"e{i}" for i in range(EVENTS)]
    done = [r for r in results if r.status == 201]
    rest = [r for r in results if r.status != 201]
    assert done and rest, "some events are written and some are not"
    assert results == done + rest  # what finished is a prefix: the store wrote in order until time ran out
    assert all((r.status, r.outcome, r.retryable, r.error.code, r.record_id) ==
               (504, pb.OUTCOME_NOT_ATTEMPTED, True, "DEADLINE_EXCEEDED", "") for r in rest)
    # Nothing reported written that is not in the org, and nothing in the org that is not reported.
    assert {r.record_id for r in done} == _lead_ids(backend)
    assert len(done) % CHUNK == 0


def test_a_deadline_shorter_than_the_margin_writes_nothing_and_says_so(container, backend):
    request = apply_request(lead_create(), identify_message("a", "a@x.io"), identify_message("b", "b@x.io"))
    t = TestServer(container.servicer()).apply(request, timeout=0.2)  # less than the 0.25 s margin
    assert t.code is grpc.StatusCode.OK
    assert [(r.status, r.outcome, r.retryable) for r in t.response.results] == [(504, pb.OUTCOME_NOT_ATTEMPTED,
                                                                                 True)] * 2
    assert backend.inner.org(INSTANCE).records("Lead") == []


def test_the_margin_is_a_floor_plus_a_fraction_of_the_remaining_time():
    before = time.monotonic()
    deadline = core_deadline(LocalContext(timeout=100.0), margin=0.5, fraction=0.1)
    after = time.monotonic()
    assert before + 100 - 10.5 <= deadline <= after + 100 - 10.5
    short = core_deadline(LocalContext(timeout=0.1), margin=0.5, fraction=0.1)
    assert short <= time.monotonic()  # nothing left to work with: the deadline has already passed
    assert core_deadline(LocalContext(), margin=0.5, fraction=0.1) is None


def test_a_call_without_a_deadline_gets_the_servers_maximum():
    before = time.monotonic()
    deadline = core_deadline(LocalContext(), margin=0.5, fraction=0.1, max_seconds=600)
    after = time.monotonic()
    assert before + 600 - 60.5 <= deadline <= after + 600 - 60.5
    assert core_deadline(LocalContext(), margin=0.5, fraction=0.1, max_seconds=0) is None


def test_settings_carry_the_margin_to_the_servicer():
    from server.container import build_container

    servicer = build_container(local_settings(deadline_margin_seconds=0.75, deadline_margin_fraction=0.3)).servicer()
    assert (servicer._margin, servicer._fraction) == (0.75, 0.3)
