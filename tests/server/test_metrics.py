"""Prometheus metrics scraped over HTTP after real calls; the memory backend's telemetry by call kind."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from core.model import Connection
from core.ports import FieldIn, Lookup
from server.app import build_server
from tests.builders import INSTANCE, apply_request, identify_message, lead_create, lead_upsert_on_email, local_settings
from tests.server.calls import SAFETY_LIMIT


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=SAFETY_LIMIT) as response:  # noqa: S310
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_events_calls_usage_and_latency_after_an_apply(start):
    running, channel = start(metrics_listen="127.0.0.1:0")
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    stub.Apply(apply_request(lead_create(), identify_message("a", "a@x.io"), identify_message("b", "b@x.io"),
                             pb.Event(id="bad", payload_json="[]")), timeout=SAFETY_LIMIT)
    stub.Apply(apply_request(lead_upsert_on_email(), identify_message("c", "a@x.io")), timeout=SAFETY_LIMIT)
    m = scrape(running.metrics_endpoint.port)

    assert m[("sfdest_events_total", (("outcome", "created"), ("status", "201")))] == 2
    assert m[("sfdest_events_total", (("outcome", "invalid"), ("status", "400")))] == 1
    assert m[("sfdest_events_total", (("outcome", "updated"), ("status", "200")))] == 1
    # describe once (then cached), one create call for both records, one query and one update for the upsert.
    calls = {labels[0][1]: v for (name, labels), v in m.items() if name == "sfdest_salesforce_calls_total"}
    assert calls == {"describe": 1, "create": 1, "query": 1, "update": 1}
    org = (("org", "acme.my.salesforce.com"),)
    assert (m[("sfdest_salesforce_api_used", org)], m[("sfdest_salesforce_api_limit", org)]) == (4, 100_000)
    assert m[("sfdest_apply_duration_seconds_count", ())] == 2
    assert m[("sfdest_rpcs_total", (("code", "OK"), ("method", "Apply")))] == 2


def test_refused_calls_and_retries_are_counted_too(start):
    running, channel = start(metrics_listen="127.0.0.1:0")
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    with pytest.raises(Exception):  # noqa: B017 (INVALID_ARGUMENT; the counter is what this test reads)
        stub.Apply(pb.ApplyRequest(), timeout=SAFETY_LIMIT)
    running.metrics.salesforce_retry("update", "UNABLE_TO_LOCK_ROW")  # as the Salesforce adapter reports them
    m = scrape(running.metrics_endpoint.port)
    assert m[("sfdest_rpcs_total", (("code", "INVALID_ARGUMENT"), ("method", "Apply")))] == 1
    assert m[("sfdest_salesforce_retries_total", (("kind", "update"), ("reason", "UNABLE_TO_LOCK_ROW")))] == 1
    assert ("sfdest_events_total", (("outcome", "created"), ("status", "201"))) not in m


def test_an_org_is_known_to_metrics_by_its_host_only(start):
    running, channel = start(metrics_listen="127.0.0.1:0")
    request = apply_request(lead_create(), identify_message("a", "a@x.io"),
                            instance_url="https://user:pw-SECRET@Acme.my.salesforce.com/services?sid=SID-SECRET")
    destination_pb2_grpc.DestinationServiceStub(channel).Apply(request, timeout=SAFETY_LIMIT)
    with urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_endpoint.port}/metrics", timeout=SAFETY_LIMIT) as r:  # noqa: S310
        text = r.read().decode()
    assert 'org="acme.my.salesforce.com"' in text
    assert "SECRET" not in text and "a@x.io" not in text


def test_empty_metrics_listen_serves_no_endpoint(start):
    running, _ = start(metrics_listen="")
    assert running.metrics_endpoint is None


def test_a_metrics_port_in_use_fails_the_start_and_frees_the_grpc_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="SFDEST_METRICS_LISTEN"):
            build_server(local_settings(metrics_listen=f"127.0.0.1:{taken.getsockname()[1]}"))


class SpyTelemetry:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.usage: list[tuple[str, int, int]] = []

    def salesforce_call(self, kind: str) -> None:
        self.calls.append(kind)

    def salesforce_retry(self, kind: str, reason: str) -> None:
        raise AssertionError("the memory org never retries")

    def api_usage(self, org: str, used: int, limit: int) -> None:
        self.usage.append((org, used, limit))


def test_the_memory_backend_reports_every_call_by_kind():
    telemetry = SpyTelemetry()
    backend = MemoryBackend(telemetry=telemetry, daily_limit=50)
    store = backend.open(Connection(instance_url=INSTANCE))
    store.describe("Lead")
    store.describe("Lead")  # cached: no call
    [created] = store.create("Lead", [{"LastName": "L", "Company": "C", "Email": "q@x.io"}])
    store.find(Lookup("Lead", ("Id",), ((FieldIn("Email", ("q@x.io",)),),)))
    store.update("Lead", [(created.id, {"LastName": "M"})])
    store.upsert("Account", "Id", [{"Id": "001000000000000AAA", "Name": "X"}])
    store.delete("Lead", [created.id])
    assert telemetry.calls == ["describe", "create", "query", "update", "upsert", "delete"]
    assert telemetry.usage[-1] == ("acme.my.salesforce.com", 6, 50)
    assert [used for _, used, _ in telemetry.usage] == [1, 2, 3, 4, 5, 6]


def test_a_backend_without_telemetry_still_works():
    store = MemoryBackend().open(Connection(instance_url=INSTANCE))
    assert store.describe("Lead").name == "Lead"


def test_the_memory_backends_holdings_stay_at_its_caps(start):
    running, channel = start(metrics_listen="127.0.0.1:0", memory_max_orgs=3, memory_max_records_per_org=5)
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    for org in range(10):
        request = apply_request(lead_create(), *(identify_message(f"e{i}", f"{i}@x.io") for i in range(7)),
                                instance_url=f"https://org{org}.my.salesforce.com")
        assert [r.status for r in stub.Apply(request, timeout=SAFETY_LIMIT).results] == [201] * 5 + [422] * 2
    m = scrape(running.metrics_endpoint.port)
    assert (m[("sfdest_memory_orgs", ())], m[("sfdest_memory_records", ())]) == (3, 15)


def test_the_salesforce_backend_reports_no_memory_holdings(start):
    from adapters.salesforce import SalesforceBackend

    with SalesforceBackend(allow_loopback_http=True) as backend:
        running, _ = start(backend, metrics_listen="127.0.0.1:0")
        names = {name for name, _ in scrape(running.metrics_endpoint.port)}
    assert "sfdest_apply_duration_seconds_count" in names  # the scrape read the server's metrics
    assert not any(name.startswith("sfdest_memory_") for name in names)
