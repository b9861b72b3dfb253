"""The in-memory backend over a real channel: it refuses real credentials unless the operator opted in, says it
served each Apply, and keeps its memory bounded (orgs kept, records per org); idle connections are closed."""

from __future__ import annotations

import threading

import grpc
import pytest
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from server import errors
from tests.builders import apply_request, identify_message, lead_create, lead_upsert_on_email
from tests.server.calls import SAFETY_LIMIT


def _stub(channel: grpc.Channel) -> destination_pb2_grpc.DestinationServiceStub:
    return destination_pb2_grpc.DestinationServiceStub(channel)


def _with_credentials(request):
    request.connection.client_credentials.CopyFrom(pb.ClientCredentials(client_id="cid", client_secret="s3cr3t"))
    return request


def test_credentials_sent_to_the_memory_backend_are_refused_naming_sfdest_backend(start):
    backend = MemoryBackend()
    _, channel = start(backend)
    apply = _with_credentials(apply_request(lead_create(), identify_message("e1", "a@x.io")))
    validate = _with_credentials(pb.ValidateRequest(action=lead_create(), connection=apply.connection))
    for method, request in (("Apply", apply), ("Validate", validate)):
        with pytest.raises(grpc.RpcError) as raised:
            getattr(_stub(channel), method)(request, timeout=SAFETY_LIMIT)
        assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION, method
        assert "SFDEST_BACKEND" in raised.value.details() and "s3cr3t" not in raised.value.details()
        info, _ = errors.details_of(rpc_status.from_call(raised.value))
        assert info is not None and (info.reason, info.metadata["backend"]) == ("MEMORY_BACKEND", "memory")
    assert backend.org_count == 0  # nothing was written anywhere


def test_an_operator_who_opted_in_gets_memory_writes_and_every_response_names_the_backend(start):
    _, channel = start(memory_accept_credentials=True)
    with_credentials = _stub(channel).Apply(_with_credentials(apply_request(lead_create(), identify_message("e1", "a@x.io"))),
                                            timeout=SAFETY_LIMIT)
    without = _stub(channel).Apply(apply_request(lead_create(), identify_message("e2", "b@x.io")), timeout=SAFETY_LIMIT)
    assert [(r.results[0].status, r.backend) for r in (with_credentials, without)] == [(201, "memory")] * 2


def test_the_least_recently_used_org_is_forgotten_past_the_cap(start):
    running, channel = start(memory_max_orgs=3)

    def upsert(org: int) -> int:
        request = apply_request(lead_upsert_on_email(), identify_message("e", "ada@x.io"),
                                instance_url=f"https://org{org}.my.salesforce.com")
        return _stub(channel).Apply(request, timeout=SAFETY_LIMIT).results[0].status

    assert [upsert(n) for n in (1, 2, 3)] == [201, 201, 201]
    assert upsert(1) == 200  # org 1 is the most recently used now; org 2 the least
    assert upsert(4) == 201 and running.backend.org_count == 3
    assert [upsert(1), upsert(3), upsert(2)] == [200, 200, 201]  # org 2 was forgotten, and made anew
    assert running.backend.org_count == 3


def test_creates_past_the_record_cap_fail_per_event_naming_the_limit(start):
    _, channel = start(memory_max_records_per_org=5)
    response = _stub(channel).Apply(apply_request(lead_create(), *(identify_message(f"e{i}", f"{i}@x.io") for i in range(7))),
                                    timeout=SAFETY_LIMIT)
    assert [r.status for r in response.results] == [201] * 5 + [422] * 2
    refused = response.results[5]
    assert refused.error.code == "STORAGE_LIMIT_EXCEEDED" and "at most 5 records" in refused.error.message


def test_an_idle_connection_is_closed_by_the_server(start):
    _, channel = start(max_connection_idle_ms=200)
    states: list[grpc.ChannelConnectivity] = []
    closed = threading.Event()

    def watch(state: grpc.ChannelConnectivity) -> None:
        states.append(state)
        if grpc.ChannelConnectivity.READY in states and state is grpc.ChannelConnectivity.IDLE:
            closed.set()

    assert _stub(channel).Apply(apply_request(lead_create(), identify_message("e1", "a@x.io")),
                                timeout=SAFETY_LIMIT).results[0].status == 201
    channel.subscribe(watch)
    assert closed.wait(SAFETY_LIMIT), f"the idle connection stayed open: {states}"
    channel.unsubscribe(watch)
