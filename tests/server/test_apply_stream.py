"""ApplyStream through `sfdest serve` with the memory backend: the same results and calls as Apply chunk by
chunk, a result for every event by position, per-event failures alone, and Apply's request checks."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb

from tests.builders import identify_message, lead_upsert_on_email
from tests.server.calls import SAFETY_LIMIT
from tests.server.serving import Served, start_server, stop_server

PER_MESSAGE, MESSAGES = 100, 20  # 2,000 events: core.streaming's threshold, results in parts


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    s = start_server()
    try:
        yield s
    finally:
        stop_server(s)


def chunks() -> list[list[pb.Event]]:
    """20 messages of 100 events; every 97th event has no email (refused alone), keys repeat across messages."""
    out = []
    for m in range(MESSAGES):
        batch = [identify_message(f"e{m}-{i}", f"p{(m * 60 + i) % 1_500}@x.io", f"Name{m}") for i in range(PER_MESSAGE)]
        for i in range(PER_MESSAGE):
            if (m * PER_MESSAGE + i) % 97 == 0:
                del batch[i].payload["traits"]["email"]
        out.append(batch)
    return out


def first(org: str, **fields) -> pb.ApplyStreamRequest:
    return pb.ApplyStreamRequest(connection=pb.Connection(instance_url=org), action=lead_upsert_on_email(), **fields)


def results_of(served: Served, requests: list[pb.ApplyStreamRequest]) -> tuple[dict[int, pb.EventResult],
                                                                               pb.ApplyStreamResponse]:
    results: dict[int, pb.EventResult] = {}
    last = pb.ApplyStreamResponse()
    for last in served.stub.ApplyStream(iter(requests), timeout=SAFETY_LIMIT * 4):
        for r in last.results:
            assert r.position not in results
            results[r.position] = r.result
    return results, last


def test_a_stream_answers_every_event_as_applying_its_messages_one_by_one_would(served):
    batches = chunks()
    unary_calls, expected = 0, []
    for batch in batches:
        response = served.stub.Apply(pb.ApplyRequest(connection=pb.Connection(
            instance_url="https://unary.my.salesforce.com"), action=lead_upsert_on_email(), events=batch),
            timeout=SAFETY_LIMIT)
        unary_calls += response.salesforce_api_calls
        expected += [(r.event_id, r.status, r.outcome, r.error.code) for r in response.results]

    results, last = results_of(served, [first("https://streamed.my.salesforce.com"),
                                        *(pb.ApplyStreamRequest(events=b) for b in batches)])

    assert sorted(results) == list(range(PER_MESSAGE * MESSAGES))
    assert [(results[p].event_id, results[p].status, results[p].outcome, results[p].error.code)
            for p in sorted(results)] == expected
    refused = [p for p, r in results.items() if r.status == 400]
    assert refused == [p for p in range(PER_MESSAGE * MESSAGES) if p % 97 == 0]
    assert {results[p].error.code for p in refused} == {"MATCHER_VALUE_MISSING"}
    assert last.summary.salesforce_api_calls == unary_calls > 0 and last.summary.backend == "memory"
    assert not last.results and last.cpu_by_step and all(s.cpu.ToTimedelta().total_seconds() >= 0
                                                         for s in last.cpu_by_step)


def violations(raised: pytest.ExceptionInfo[grpc.RpcError]) -> list[str]:
    status = rpc_status.from_call(raised.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    next(d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)).Unpack(bad)
    return [v.field for v in bad.field_violations]


@pytest.mark.parametrize(("requests", "fields"), [
    ([pb.ApplyStreamRequest(connection=pb.Connection(instance_url="https://a.my.salesforce.com"))], ["action"]),
    ([first("https://b.my.salesforce.com"), pb.ApplyStreamRequest(
        connection=pb.Connection(instance_url="https://b.my.salesforce.com"), dry_run=True)],
     ["connection", "dry_run"]),
    ([first("https://c.my.salesforce.com", events=[identify_message("x", "x@x.io"), identify_message("x", "y@x.io")])],
     ["events[1].id"]),
    ([first("https://d.my.salesforce.com"), pb.ApplyStreamRequest()], ["events"]),
], ids=["no action", "later message sets the connection", "ids repeat in a message", "no event at all"])
def test_a_malformed_stream_is_refused_as_apply_refuses_a_malformed_request(served, requests, fields):
    with pytest.raises(grpc.RpcError) as raised:
        results_of(served, requests)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(raised) == fields
