"""Nothing is written after the caller was told the call failed: a cancelled Apply, or one the server's
shutdown grace cannot wait for, starts no Salesforce request after that; one the grace can wait for answers."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import grpc
from sfdest.v1 import destination_pb2 as pb

from tests.builders import action, grant_connection, identify_message
from tests.e2e.salesforce.upsert_rounds import salesforce_env
from tests.server.serving import CALL_LIMIT, Served, start_server, stop_server
from tools.emulator.server import Emulator

CREATE_LEAD = action(object="Lead", operation="OPERATION_CREATE",
                     field_mappings=[{"field": "LastName", "value": {"path": "traits.last_name"}},
                                     {"field": "Company", "value": {"literal": "Acme"}},
                                     {"field": "Email", "value": {"path": "traits.email"}}])
WRITES = ("collection_create", "collection_update")
# Each event's own round: a dropped number is never merged away (core.merging), so 12 events on one Lead
# stay 12 writes.
UPSERT_LEAD_SIZES = action(
    object="Lead", operation="OPERATION_UPSERT",
    record_matchers=[{"field": "Email", "value": {"path": "traits.email"}}],
    field_mappings=[{"field": "LastName", "value": {"path": "traits.last_name"}},
                    {"field": "Company", "value": {"literal": "Acme"}},
                    {"field": "Email", "value": {"path": "traits.email"}},
                    {"field": "NumberOfEmployees", "value": {"path": "traits.size"}}])


def writes(emu: Emulator) -> int:
    """Collection writes, sent alone or inside Composite calls."""
    return sum(emu.calls[k] + emu.subrequests[k] for k in WRITES)


def sized(n: int) -> list[pb.Event]:
    events = [identify_message(f"e{i}", "same@example.com", f"Name{i}") for i in range(n)]
    for i, event in enumerate(events):
        event.payload["traits"]["size"] = i + 1
    return events
WAIT_LIMIT = 60.0  # the longest a test waits for something to happen; never asserted


def wait_for(condition: Callable[[], bool], what: str) -> None:
    limit = time.monotonic() + WAIT_LIMIT
    while not condition():
        assert time.monotonic() < limit, f"never happened: {what}"
        time.sleep(0.01)


def serve(**env: str) -> Served:
    return start_server({**salesforce_env(4), **env})


def creates(n: int) -> list[pb.Event]:
    return [identify_message(f"e{i}", f"user{i}@example.com", f"Last{i}") for i in range(n)]


def apply_logged(served: Served) -> bool:
    return any('"rpc":"Apply"' in line for line in served.log)


def test_a_cancelled_create_batch_sends_no_request_after_the_cancel(emulator_factory):
    emu: Emulator = emulator_factory(latency_ms=20)
    served = serve()
    try:
        emu.fail_next(1, "delay", seconds=3.0, call="describe")  # the cancel comes while this is in flight
        call = served.stub.Apply.future(pb.ApplyRequest(action=CREATE_LEAD, connection=grant_connection(
            emu, "oauth_refresh_token"), events=creates(1000)), timeout=CALL_LIMIT, wait_for_ready=True)
        wait_for(lambda: emu.calls["describe"] == 1, "the Apply's describe reached the org")
        call.cancel()
        seen = len(emu.requests)
        wait_for(lambda: apply_logged(served), "sfdest finished the Apply")
        assert call.cancelled()
        assert (len(emu.requests) - seen, writes(emu), len(emu.org.records("Lead"))) == (
            0, 0, 0)
    finally:
        stop_server(served)


def test_a_shutdown_whose_grace_runs_out_stops_the_apply_before_its_next_request(emulator_factory):
    emu: Emulator = emulator_factory(latency_ms=20)
    served = serve(SFDEST_GRACE_SECONDS="1")
    try:
        emu.fail_next(1, "delay", seconds=4.0, call="describe")  # longer than the grace
        call = served.stub.Apply.future(pb.ApplyRequest(action=CREATE_LEAD, connection=grant_connection(
            emu, "oauth_refresh_token"), events=creates(1000)), timeout=CALL_LIMIT, wait_for_ready=True)
        wait_for(lambda: emu.calls["describe"] == 1, "the Apply's describe reached the org")
        served.process.send_signal(signal.SIGTERM)
        try:
            call.result()
            raise AssertionError("the Apply was answered although its describe outlasted the grace")
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        seen = len(emu.requests)
        assert served.process.wait(timeout=WAIT_LIMIT) == 0
        assert (len(emu.requests) - seen, writes(emu), len(emu.org.records("Lead"))) == (
            0, 0, 0)
    finally:
        stop_server(served)


def test_an_apply_running_at_shutdown_answers_within_the_grace_with_what_it_wrote(emulator_factory):
    emu: Emulator = emulator_factory(latency_ms=300)  # each of the batch's 12 rounds takes a while
    # The answer is due 3 - (1 + 10 % of 3) = 1.7 s into the 3 s grace: time for the write in flight and the answer.
    served = serve(SFDEST_GRACE_SECONDS="3", SFDEST_DEADLINE_MARGIN_SECONDS="1")
    try:
        events = sized(12)  # one Lead, 12 writes
        call = served.stub.Apply.future(pb.ApplyRequest(action=UPSERT_LEAD_SIZES, connection=grant_connection(
            emu, "oauth_refresh_token"), events=events), timeout=CALL_LIMIT, wait_for_ready=True)
        wait_for(lambda: writes(emu) >= 1, "the Apply's first write reached the org")
        served.process.send_signal(signal.SIGTERM)
        response = call.result()  # answered, within the grace
        assert served.process.wait(timeout=WAIT_LIMIT) == 0
        written = [r for r in response.results if r.status in (200, 201)]
        rest = response.results[len(written):]
        assert written and rest, [r.status for r in response.results]
        assert {(r.status, r.outcome, r.retryable, r.error.code) for r in rest} == {
            (503, pb.OUTCOME_NOT_ATTEMPTED, True, "CANCELLED")}
        [lead] = emu.org.records("Lead")
        assert (writes(emu), lead["LastName"]) == (len(written), f"Name{len(written) - 1}")
    finally:
        stop_server(served)
