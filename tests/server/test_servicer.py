"""DestinationService through grpcio-testing: translation, per-event results, request faults, logging."""

from __future__ import annotations

import json
import logging
import time

import grpc
import pytest
from sfdest.v1 import destination_pb2 as pb

from core.credentials import OAuthRefreshToken
from server.config import Settings
from server.logs import JsonFormatter
from tests.builders import INSTANCE, action, apply_request, identify_message, lead_create, lead_upsert_on_email

# The memory backend refuses credentials unless the operator opted in; these tests follow them through.
ACCEPTING_CREDENTIALS = pytest.mark.parametrize("settings", [Settings(max_events=5, memory_accept_credentials=True)])


def test_apply_returns_one_result_per_event_in_order_echoing_ids(server):
    request = apply_request(lead_upsert_on_email(), identify_message("e-2", "b@x.io"), identify_message("e-1", "a@x.io"))
    t = server.apply(request)
    assert t.code is grpc.StatusCode.OK
    assert [r.event_id for r in t.response.results] == ["e-2", "e-1"]
    assert [(r.status, r.outcome) for r in t.response.results] == [(201, pb.OUTCOME_CREATED)] * 2
    assert all(len(r.record_id) == 18 for r in t.response.results)
    assert t.response.salesforce_api_calls > 0


def test_upsert_twice_creates_then_updates_the_same_record(server):
    first = server.apply(apply_request(lead_upsert_on_email(), identify_message("1", "ada@x.io"))).response.results[0]
    second = server.apply(apply_request(lead_upsert_on_email(), identify_message("2", "ADA@x.io", "Byron"))).response.results[0]
    assert (first.status, second.status) == (201, 200)
    assert second.outcome == pb.OUTCOME_UPDATED
    assert second.record_id == first.record_id


def test_upsert_matching_two_records_is_ambiguous_and_lists_both(server):
    created = server.apply(apply_request(lead_create(), identify_message("c1", "dup@x.io"), identify_message("c2", "dup@x.io")))
    ids = {r.record_id for r in created.response.results}
    result = server.apply(apply_request(lead_upsert_on_email(), identify_message("u", "dup@x.io"))).response.results[0]
    assert (result.status, result.outcome, result.retryable) == (300, pb.OUTCOME_AMBIGUOUS, False)
    assert set(result.matched_ids) == ids and len(ids) == 2
    assert result.error.code == "MULTIPLE_MATCHES"


def test_payload_json_and_struct_payloads_are_both_read(server):
    request = apply_request(lead_upsert_on_email(), identify_message("s", "s@x.io"), identify_message("j", "j@x.io", as_json=True))
    assert [r.status for r in server.apply(request).response.results] == [201, 201]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', '{"a": NaN}'])
def test_an_unreadable_payload_json_fails_that_event_alone(server, body):
    request = apply_request(lead_upsert_on_email(), identify_message("ok", "ok@x.io"), pb.Event(id="bad", payload_json=body),
                            identify_message("ok2", "ok2@x.io"))
    results = server.apply(request).response.results
    assert [r.status for r in results] == [201, 400, 201]
    assert results[1].outcome == pb.OUTCOME_INVALID
    assert results[1].error.code == "INVALID_EVENT"
    assert "events[1].payload_json" in results[1].error.message


def test_dry_run_reports_what_would_happen_and_writes_nothing(server):
    dry = server.apply(apply_request(lead_upsert_on_email(), identify_message("1", "new@x.io"), dry_run=True))
    assert [(r.status, r.outcome) for r in dry.response.results] == [(201, pb.OUTCOME_WOULD_CREATE)]
    real = server.apply(apply_request(lead_upsert_on_email(), identify_message("1", "new@x.io")))
    assert real.response.results[0].outcome == pb.OUTCOME_CREATED


def test_an_invalid_action_gives_every_event_a_400_not_a_grpc_error(server, backend):
    bad = action(object="Lead", operation="OPERATION_UPDATE",
                 record_matchers=[{"field": "Email OR 1=1", "value": {"path": "traits.email"}}])
    t = server.apply(apply_request(bad, identify_message("a", "a@x.io"), identify_message("b", "b@x.io")))
    assert t.code is grpc.StatusCode.OK
    assert [(r.event_id, r.status, r.outcome) for r in t.response.results] == [
        ("a", 400, pb.OUTCOME_INVALID), ("b", 400, pb.OUTCOME_INVALID)]
    assert t.response.results[0].error.code == "INVALID_ACTION"
    diagnostics = t.response.diagnostics
    assert [diagnostics[i].field_path for i in t.response.results[0].diagnostic_indexes] == [
        "action.record_matchers[0].field"]
    assert backend.opened == []  # static problems never reach the org


def test_an_unknown_operation_enum_value_is_reported_with_its_path(server):
    t = server.apply(apply_request(pb.Action(object="Lead", operation=9), identify_message("a", "a@x.io")))
    result = t.response.results[0]
    assert result.status == 400
    assert [t.response.diagnostics[i].field_path for i in result.diagnostic_indexes] == ["action.operation"]
    assert "unknown enum value 9" in t.response.diagnostics[result.diagnostic_indexes[0]].message


@ACCEPTING_CREDENTIALS
def test_connection_and_credentials_reach_the_backend_translated(server, backend):
    request = apply_request(lead_upsert_on_email(), identify_message("1", "c@x.io"))
    request.connection.api_version = "v61.0"
    request.connection.oauth_refresh_token.CopyFrom(pb.OAuthRefreshToken(client_id="cid", client_secret="s3cr3t",
                                                                         refresh_token="rt-42"))
    server.apply(request)
    connection, _ = backend.opened[0]
    assert (connection.instance_url, connection.api_version) == (INSTANCE, "v61.0")
    assert connection.credentials == OAuthRefreshToken("cid", "s3cr3t", "rt-42")


def test_the_callers_deadline_reaches_core_less_a_margin(server, backend):
    before = time.monotonic()
    server.apply(apply_request(lead_upsert_on_email(), identify_message("1", "d@x.io")), timeout=30)
    server.apply(apply_request(lead_upsert_on_email(), identify_message("2", "e@x.io")))
    (_, with_timeout), (_, without) = backend.opened
    assert with_timeout is not None and before < with_timeout < time.monotonic() + 30
    assert without is not None and time.monotonic() + 30 < without <= time.monotonic() + 600  # the server's maximum


MALFORMED = {
    "no action": (lambda r: r.ClearField("action"), "action"),
    "no events": (lambda r: r.ClearField("events"), "events"),
    "too many events": (lambda r: r.events.extend(identify_message(f"x{i}", f"{i}@x.io") for i in range(5)), "events"),
    "empty event id": (lambda r: r.events.append(identify_message("", "e@x.io")), "events[1].id"),
    "duplicate event id": (lambda r: r.events.append(identify_message("a", "e@x.io")), "events[1].id"),
    "no connection": (lambda r: r.ClearField("connection"), "connection"),
    "empty instance url": (lambda r: setattr(r.connection, "instance_url", " "), "connection.instance_url"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_apply_is_invalid_argument_with_field_violations(server, backend, name):
    change, field = MALFORMED[name]
    request = apply_request(lead_upsert_on_email(), identify_message("a", "a@x.io"))
    change(request)
    t = server.apply(request)
    assert t.code is grpc.StatusCode.INVALID_ARGUMENT
    info, violations = t.error_details()
    assert (info.reason, info.domain) == ("MALFORMED_REQUEST", "sfdest")
    assert info.metadata["request_id"]
    assert [v.field for v in violations] == [field]
    assert field in t.details
    assert backend.opened == []


def test_every_fault_of_a_request_is_listed(server):
    request = pb.ApplyRequest(events=[identify_message("same", "a@x.io") for _ in range(5)])
    _, violations = server.apply(request).error_details()
    assert [v.field for v in violations] == ["connection", "action"] + [f"events[{i}].id" for i in range(1, 5)]
    assert all("events[0].id" in v.description for v in violations[2:])


def test_validate_without_an_action_is_invalid_argument(server):
    t = server.validate(pb.ValidateRequest())
    assert t.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in t.error_details()[1]] == ["action"]


def test_validate_accepts_a_good_action(server):
    t = server.validate(pb.ValidateRequest(action=lead_upsert_on_email(), connection=pb.Connection(
        instance_url=INSTANCE)))
    assert t.code is grpc.StatusCode.OK
    assert t.response.valid
    assert [d for d in t.response.diagnostics if d.severity == pb.SEVERITY_ERROR] == []


def test_validate_reports_an_invalid_action_as_diagnostics_with_paths(server):
    bad = action(object="Lead", operation="OPERATION_UPDATE",
                 field_mappings=[{"field": "Email", "value": {"path": "traits..email"}}])
    t = server.validate(pb.ValidateRequest(action=bad))
    assert t.code is grpc.StatusCode.OK and not t.response.valid
    found = {(d.code, d.field_path, d.severity) for d in t.response.diagnostics}
    assert ("MATCHER_REQUIRED", "action.record_matchers", pb.SEVERITY_ERROR) in found
    assert ("INVALID_PATH", "action.field_mappings[0].value", pb.SEVERITY_ERROR) in found


def test_validate_with_a_connection_checks_the_orgs_metadata(server):
    matcher_on_description = action(object="Lead", operation="OPERATION_UPSERT",
                                    record_matchers=[{"field": "Description", "value": {"path": "traits.d"}}],
                                    field_mappings=[{"field": "LastName", "value": {"literal": "x"}},
                                                    {"field": "Company", "value": {"literal": "y"}}])
    t = server.validate(pb.ValidateRequest(action=matcher_on_description, connection=pb.Connection(
        instance_url=INSTANCE)))
    assert not t.response.valid
    assert [(d.code, d.field_path) for d in t.response.diagnostics if d.severity == pb.SEVERITY_ERROR] == [
        ("FIELD_NOT_FILTERABLE", "action.record_matchers[0].field")]


def test_validate_checks_sample_events_and_names_them(server):
    request = pb.ValidateRequest(action=lead_upsert_on_email(), sample_events=[
        identify_message("ok", "a@x.io"), pb.Event(id="bad", payload_json="[]")])
    t = server.validate(request)
    assert not t.response.valid
    assert [(d.code, d.field_path) for d in t.response.diagnostics] == [("INVALID_EVENT", "sample_events[1]")]
    assert "sample_events[1].payload_json" in t.response.diagnostics[0].message


class _Exploding:
    def open(self, connection, deadline=None, stop=None):
        raise RuntimeError("boom: refresh_token=rt-secret")


def test_an_unexpected_failure_is_internal_and_leaks_nothing(container):
    from tests.server.calls import TestServer

    container.backend.override(_Exploding())
    t = TestServer(container.servicer()).apply(apply_request(lead_upsert_on_email(), identify_message("1", "a@x.io")),
                                               metadata=(("x-request-id", "req-7"),))
    assert t.code is grpc.StatusCode.INTERNAL
    assert "rt-secret" not in t.details and "req-7" in t.details
    info, _ = t.error_details()
    assert info.reason == "INTERNAL"


@ACCEPTING_CREDENTIALS
def test_each_call_logs_one_structured_line_without_secrets_or_matcher_values(server, caplog):
    request = apply_request(lead_upsert_on_email(), identify_message("1", "private@x.io"), identify_message("2", "other@x.io"))
    request.connection.client_credentials.CopyFrom(pb.ClientCredentials(client_id="cid", client_secret="s3cr3t"))
    with caplog.at_level(logging.INFO, logger="sfdest.rpc"):
        server.apply(request, metadata=(("x-request-id", "req-1"),))
        server.apply(pb.ApplyRequest())
    records = [r for r in caplog.records if r.name == "sfdest.rpc"]
    assert len(records) == 2
    ok, bad = (json.loads(JsonFormatter().format(r)) for r in records)
    assert (ok["msg"], ok["level"], ok["logger"]) == ("Apply OK", "INFO", "sfdest.rpc")
    assert ok["request_id"] == "req-1" and ok["rpc"] == "Apply" and ok["code"] == "OK"
    assert ok["events"] == 2 and ok["statuses"] == {"201": 2} and ok["outcomes"] == {"created": 2}
    assert ok["api_calls"] > 0 and "duration_ms" in ok
    assert bad["code"] == "INVALID_ARGUMENT" and bad["reason"] == "MALFORMED_REQUEST"
    text = caplog.text
    for secret in ("s3cr3t", "private@x.io", "other@x.io"):
        assert secret not in text
