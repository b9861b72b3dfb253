"""The first hour with sfdest: what an operator meets running `make run` and the CLI, through the CLI as a
process and real gRPC channels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, json_format
from grpc_reflection.v1alpha import reflection_pb2
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from tests.builders import action, apply_request, identify_message, lead_upsert_on_email
from tests.server.calls import SAFETY_LIMIT
from tests.server.serving import ROOT, start_server, stop_server


def sfdest(*argv: str) -> subprocess.CompletedProcess:
    """`sfdest ARGV` as a process (in-process backend unless --target), as an operator runs it."""
    env = {**os.environ, "SFDEST_BACKEND": "memory"}
    return subprocess.run([sys.executable, "-m", "server.cli", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=SAFETY_LIMIT * 2, check=False)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "action.json").write_text(json_format.MessageToJson(lead_upsert_on_email()))
    (tmp_path / "events.jsonl").write_text(json.dumps({"id": "e1", "payload": {"traits": {
        "email": "ann@example.com", "last_name": "Lee"}}}))
    return tmp_path


# Two `make run`s -------------------------------------------------------------------------------
def test_two_servers_with_default_settings_on_different_ports_both_start():
    first = start_server(env={"SFDEST_METRICS_LISTEN": None})  # unset: the default applies
    try:
        second = start_server(env={"SFDEST_METRICS_LISTEN": None})
        try:
            started = [json.loads(next(line for line in s.log if "listening on" in line)) for s in (first, second)]
            assert [s.process.poll() for s in (first, second)] == [None, None]
        finally:
            stop_server(second)
    finally:
        stop_server(first)
    assert [line["metrics_port"] for line in started] == [None, None]
    assert started[0]["port"] != started[1]["port"]


# TLS mismatch ----------------------------------------------------------------------------------
def test_a_plaintext_call_to_a_tls_server_says_tls(start, certs, files):
    running, _ = start(tls_cert_file=str(certs.server.cert), tls_key_file=str(certs.server.key))
    done = sfdest("apply", "--target", f"127.0.0.1:{running.port}", "--action", str(files / "action.json"),
                  str(files / "events.jsonl"))
    assert done.returncode == 2
    assert "speaks TLS but this call was plaintext" in done.stderr and "--ca-file" in done.stderr, done.stderr
    assert "make run" not in done.stderr


def test_a_tls_call_to_a_plaintext_server_says_tls(start, certs, files):
    running, _ = start()
    done = sfdest("validate", "--target", f"127.0.0.1:{running.port}", "--ca-file", str(certs.ca),
                  str(files / "action.json"))
    assert done.returncode == 2
    assert "speaks plaintext, not TLS, but this call used TLS" in done.stderr, done.stderr
    assert "make run" not in done.stderr


def test_a_tls_call_the_server_refuses_names_the_tls_handshake(start, certs, files):
    running, _ = start(tls_cert_file=str(certs.server.cert), tls_key_file=str(certs.server.key),
                       tls_client_ca_file=str(certs.ca))
    done = sfdest("validate", "--target", f"127.0.0.1:{running.port}", "--ca-file", str(certs.ca),
                  "--cert-file", str(certs.stranger.cert), "--key-file", str(certs.stranger.key),
                  str(files / "action.json"))
    assert done.returncode == 2
    assert f"the TLS handshake with 127.0.0.1:{running.port} failed" in done.stderr, done.stderr


def test_nothing_listening_is_still_said_plainly(files):
    with socket_bound_but_not_listening() as port:
        done = sfdest("validate", "--target", f"127.0.0.1:{port}", str(files / "action.json"))
    assert done.returncode == 2
    assert f"cannot reach a server at 127.0.0.1:{port}" in done.stderr and "TLS" not in done.stderr, done.stderr


class socket_bound_but_not_listening:
    """A loopback port held (bound, not listening) for the block: connecting to it is refused."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *_: object) -> None:
        self.sock.close()


# --target without a port -----------------------------------------------------------------------
def test_a_target_without_a_port_means_port_50051(start, files):
    """A server on 127.0.0.N:50051 (the first loopback address whose 50051 is free), reached as `127.0.0.N`."""
    for n in range(2, 40):
        try:
            start(listen=f"127.0.0.{n}:50051")
            break
        except OSError:
            continue
    else:
        pytest.fail("no loopback address 127.0.0.2-39 had port 50051 free")
    done = sfdest("apply", "--target", f"127.0.0.{n}", "--action", str(files / "action.json"),
                  str(files / "events.jsonl"))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["status"] for line in done.stdout.splitlines()] == [201]


def test_localhost_without_a_port_is_named_with_port_50051_when_unreachable(files):
    done = sfdest("validate", "--target", "localhost", "--timeout", "5", str(files / "action.json"))
    # Whatever runs on this machine's port 50051, the CLI addressed localhost:50051 (gRPC alone would use 443).
    assert ":443" not in done.stderr
    assert done.returncode in (0, 1) or "cannot reach a server at localhost:50051" in done.stderr, done.stderr


# Enum errors list the valid values ----------------------------------------------------------------
@pytest.mark.parametrize("field,value,valid", [
    ("operation", "OPERATION_MERGE", "OPERATION_CREATE, OPERATION_UPDATE, OPERATION_UPSERT, OPERATION_DELETE"),
    ("matcherOperator", "MATCHER_OPERATOR_XOR", "MATCHER_OPERATOR_OR, MATCHER_OPERATOR_AND"),
])
def test_an_unknown_enum_name_in_an_action_file_lists_the_valid_ones(tmp_path, field, value, valid):
    path = tmp_path / "action.json"
    path.write_text(json.dumps({"object": "Lead", "operation": "OPERATION_UPSERT", field: value}))
    done = sfdest("validate", "--no-connection", str(path))
    assert done.returncode == 2
    assert value in done.stderr and f"valid values: {valid}" in done.stderr, done.stderr


def test_an_unknown_enum_number_over_grpc_lists_the_valid_ones(start):
    _, channel = start()
    request = pb.ValidateRequest(action=pb.Action(object="Lead", operation=9, matcher_operator=7))
    response = destination_pb2_grpc.DestinationServiceStub(channel).Validate(request, timeout=SAFETY_LIMIT)
    found = {d.field_path: d.message for d in response.diagnostics if d.code == "UNKNOWN_ENUM_VALUE"}
    assert found == {
        "action.operation": "unknown enum value 9; valid values: OPERATION_CREATE (1), OPERATION_UPDATE (2), "
                            "OPERATION_UPSERT (3), OPERATION_DELETE (4)",
        "action.matcher_operator": "unknown enum value 7; valid values: MATCHER_OPERATOR_OR (1), "
                                   "MATCHER_OPERATOR_AND (2)"}


# Reflection v1 and v1alpha -------------------------------------------------------------------------
def _reflect(channel: grpc.Channel, version: str, request: reflection_pb2.ServerReflectionRequest):
    """One reflection exchange over `grpc.reflection.<version>` (v1 and v1alpha share their wire format)."""
    call = channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                                 request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                 response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    return next(call(iter([request]), timeout=SAFETY_LIMIT))


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_answers_as_v1_and_v1alpha(start, version):
    _, channel = start()
    listed = _reflect(channel, version, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    assert {"sfdest.v1.DestinationService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"} <= names
    for symbol, package in (("sfdest.v1.DestinationService", "sfdest.v1"),
                            ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1")):
        found = _reflect(channel, version, reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol))
        files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                 for raw in found.file_descriptor_response.file_descriptor_proto]
        assert package in {f.package for f in files}, found


# Each command's usage ------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,command", [
    (("apply", "--help"), "apply"),
    (("validate", "--help"), "validate"),
    (("serve", "--bogus"), "serve"),
    (("apply", "--action", "a.json", "events.jsonl", "--bogus"), "apply"),
    (("apply", "--action", "a.json"), "apply"),
    (("validate",), "validate"),
])
def test_help_and_argument_errors_show_the_commands_usage(argv, command):
    done = sfdest(*argv)
    text = done.stdout + done.stderr
    assert done.returncode == (0 if "--help" in argv else 2)
    assert f"usage: sfdest {command} " in text and "{serve,apply,validate}" not in text, text


# Dry run: a record an earlier event would create --------------------------------------------------
def test_a_dry_run_names_a_record_an_earlier_event_would_create_pending_event_id(start):
    _, channel = start()
    upsert = apply_request(lead_upsert_on_email(), identify_message("e1", "new@example.com"),
                           identify_message("e2", "new@example.com", "Byron"), dry_run=True)
    results = destination_pb2_grpc.DestinationServiceStub(channel).Apply(upsert, timeout=SAFETY_LIMIT).results
    assert [(r.event_id, r.status, r.outcome, r.record_id) for r in results] == [
        ("e1", 201, pb.OUTCOME_WOULD_CREATE, ""), ("e2", 200, pb.OUTCOME_WOULD_UPDATE, "pending:e1")]
    delete = apply_request(action(object="Lead", operation="OPERATION_DELETE",
                                  record_matchers=[{"field": "Email", "value": {"path": "traits.email"}}]),
                           identify_message("d1", "new@example.com"), dry_run=True)
    results = destination_pb2_grpc.DestinationServiceStub(channel).Apply(delete, timeout=SAFETY_LIMIT).results
    assert [(r.status, r.outcome) for r in results] == [(404, pb.OUTCOME_NOT_FOUND)]  # the dry run wrote nothing
