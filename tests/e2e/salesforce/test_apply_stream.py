"""ApplyStream through `sfdest serve` (Salesforce backend) against the emulator: upserts on an external id
streamed into Bulk API 2.0 jobs, a result per event, bad events failing alone, cancel before the next call."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb

from tests.server.serving import CALL_LIMIT, Served, serving_salesforce
from tools.emulator.server import Emulator

# Events in one stream of 20 messages: make test sends 4,000 (one Bulk job, results in several parts); make soak
# the 20,000 (STREAM_EVENTS=20000).
STREAM_EVENTS = int(os.environ.get("STREAM_EVENTS", "4000"))
UPSERT_SUBSCRIPTION = {"object": "Subscription__c", "operation": "OPERATION_UPSERT",
                       "record_matchers": [{"field": "External_Id__c", "value": {"path": "properties.sub_id"}}],
                       "field_mappings": [{"field": "Plan__c", "value": {"path": "properties.plan"}},
                                          {"field": "Seats__c", "value": {"path": "properties.seats"}}]}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serving_salesforce() as s:
        yield s


def event(i: int, key: str | None = None, plan: str = "", **extra: str) -> pb.Event:
    properties = {"sub_id": f"S-{i}" if key is None else key, "plan": plan or f"plan-{i % 7}", **extra}
    if key == "":
        del properties["sub_id"]
    return pb.Event(id=f"e{i}", payload_json=json.dumps({"type": "track", "properties": properties}))


def messages(emu: Emulator, batches: list[list[pb.Event]]) -> Iterator[pb.ApplyStreamRequest]:
    yield pb.ApplyStreamRequest(connection=json_format.ParseDict(emu.connection(), pb.Connection()),
                                action=json_format.ParseDict(UPSERT_SUBSCRIPTION, pb.Action()))
    for batch in batches:
        yield pb.ApplyStreamRequest(events=batch)


def stream(served: Served, requests: Iterator[pb.ApplyStreamRequest]) -> tuple[
        dict[int, pb.EventResult], pb.ApplyStreamResponse]:
    """Every result by position (each position answered once), and the last message."""
    results: dict[int, pb.EventResult] = {}
    last = pb.ApplyStreamResponse()
    for last in served.stub.ApplyStream(requests, timeout=CALL_LIMIT * 4):
        for r in last.results:
            assert r.position not in results
            results[r.position] = r.result
    return results, last


def plans(emu: Emulator) -> dict[str, str]:
    return {r["External_Id__c"]: r["Plan__c"] for r in emu.org.records("Subscription__c")}


def test_events_in_twenty_messages_are_one_bulk_job_with_a_result_each(served, emulator):
    per = STREAM_EVENTS // 20
    for i in range(0, STREAM_EVENTS, 2):  # half the keys exist
        emulator.org.seed("Subscription__c", {"External_Id__c": f"S-{i}", "Plan__c": "old"})
    batches = [[event(i) for i in range(start, start + per)] for start in range(0, STREAM_EVENTS, per)]
    no_key, too_long = 3 * per + 5, 7 * per + 9  # both odd: keys that do not exist yet
    batches[3][5] = event(no_key, key="")  # no key: refused by sfdest, before any write
    batches[7][9] = event(too_long, plan="x" * 81)  # refused by Salesforce, in the job
    emulator.reset_counters()
    results, last = stream(served, messages(emulator, batches))

    assert sorted(results) == list(range(STREAM_EVENTS))
    assert all(results[p].event_id == f"e{p}" for p in results)
    assert (results[no_key].status, results[no_key].error.code) == (400, "MATCHER_VALUE_MISSING")
    refused = results[too_long]
    assert (refused.status, refused.error.code, list(refused.error.fields)) == (422, "STRING_TOO_LONG", ["Plan__c"])
    [problem] = refused.error.field_problems  # as Apply says it: the mapping to change, and why
    assert (problem.path, problem.hint) == ("action.field_mappings[0]", "length 81, limit 80")
    good = Counter((r.status, r.outcome) for p, r in results.items() if p not in (no_key, too_long))
    half = STREAM_EVENTS // 2
    assert good == {(201, pb.OUTCOME_CREATED): half - 2, (200, pb.OUTCOME_UPDATED): half}  # both bad keys new
    assert plans(emulator)[f"S-{too_long - 1}"] == f"plan-{(too_long - 1) % 7}"
    assert f"S-{too_long}" not in plans(emulator)
    assert emulator.calls["bulk_create"] == 1 and emulator.calls["bulk_upload"] == 1
    assert emulator.calls["bulk_results"] == 2  # successful and failed rows
    assert last.summary.salesforce_api_calls == emulator.api_calls and last.summary.backend == "salesforce"
    assert last.summary.write_path == "bulk"
    assert {s.step for s in last.cpu_by_step} >= {"receive", "prepare", "csv", "upload", "poll", "results"}


def test_events_of_one_record_go_to_successive_jobs_and_the_last_value_wins(served, emulator):
    batches = [[event(i) for i in range(start, start + 1000)] for start in range(0, 3000, 1000)]
    batches.append([event(3000 + i, key=f"S-{i}", plan="again") for i in range(10)])
    results, _ = stream(served, messages(emulator, batches))
    assert len(results) == 3010 and {r.status for r in results.values()} == {200, 201}
    assert emulator.calls["bulk_create"] == 2
    assert all(plans(emulator)[f"S-{i}"] == "again" for i in range(10))
    assert all(results[3000 + i].record_id == results[i].record_id for i in range(10))


def test_a_malformed_later_message_ends_the_call_and_its_job_writes_nothing(served, emulator):
    batches = [[event(i) for i in range(start, start + 1000)] for start in range(0, 3000, 1000)]
    batches.append([event(1), event(1)])  # two events with one id in a message
    with pytest.raises(grpc.RpcError) as raised:
        stream(served, messages(emulator, batches))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events[1].id" in raised.value.details()
    assert emulator.org.records("Subscription__c") == []
    assert [job.state for job in emulator.bulk.jobs.values()] == ["Aborted"]


def test_a_cancelled_stream_sends_nothing_more_to_salesforce(served, emulator):
    more = threading.Event()

    def requests() -> Iterator[pb.ApplyStreamRequest]:
        yield from messages(emulator, [[event(i) for i in range(start, start + 1000)] for start in (0, 1000, 2000)])
        more.wait(CALL_LIMIT)  # the job is open and its upload under way until the caller gives up
        yield pb.ApplyStreamRequest(events=[event(3000)])

    call = served.stub.ApplyStream(requests(), timeout=CALL_LIMIT)
    wait_until(lambda: emulator.calls["bulk_create"] == 1)
    call.cancel()
    more.set()
    wait_until(lambda: any("ApplyStream CANCELLED" in line for line in served.log))
    assert emulator.calls["bulk_state"] == 0 and emulator.calls["bulk_info"] == 0  # never closed, never polled
    assert emulator.org.records("Subscription__c") == []


def wait_until(condition, limit: float = CALL_LIMIT) -> None:
    done = threading.Event()
    for _ in range(int(limit / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("never happened")


def test_a_failed_upload_fails_every_row_of_its_job_retryably_and_writes_nothing(served, emulator):
    emulator.fail_next(1, "server_error", call="bulk_upload")  # answered once the whole upload was read
    batches = [[event(i) for i in range(start, start + 1000)] for start in range(0, 3000, 1000)]
    results, last = stream(served, messages(emulator, batches))
    assert sorted(results) == list(range(3000))
    assert {(r.status, r.retryable) for r in results.values()} == {(500, True)}
    assert emulator.org.records("Subscription__c") == []
    assert [job.state for job in emulator.bulk.jobs.values()] == ["Aborted"]
    assert last.summary.salesforce_api_calls == emulator.api_calls
