"""Tokens scoped to orgs (SFDEST_AUTH_TOKENS_FILE), over a real channel: a caller reaches only its instance URLs,
refused with PERMISSION_DENIED naming the URL (never the token) before any work; the file is re-read on change."""

from __future__ import annotations

import json
import os

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from server import errors
from server.app import build_server
from server.config import ConfigError, Secret
from tests.builders import apply_request, identify_message, lead_create, local_settings
from tests.server.calls import SAFETY_LIMIT

EU_TOKEN, ADMIN_TOKEN, SHARED_TOKEN = "eu-token-0123456789abcdef", "admin-token-0123456789abc", "shared-0123456789abcdef"
ACME, BETA = "https://acme.my.salesforce.com", "https://beta.my.salesforce.com"


def _write(path, entries: list[dict]) -> str:
    path.write_text(json.dumps({"tokens": entries}))
    return str(path)


@pytest.fixture
def tokens_file(tmp_path):
    return _write(tmp_path / "tokens.json", [
        {"name": "cdp-eu", "token": EU_TOKEN, "instance_urls": [ACME]},
        {"name": "ops", "token": ADMIN_TOKEN, "instance_urls": ["*"]}])


def _apply(channel, token: str, instance_url: str) -> pb.ApplyResponse:
    return destination_pb2_grpc.DestinationServiceStub(channel).Apply(
        apply_request(lead_create(), identify_message("e1", "a@x.io"), instance_url=instance_url), timeout=SAFETY_LIMIT,
        metadata=(("authorization", f"Bearer {token}"),))


def _refusal(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def test_a_scoped_token_reaches_its_orgs_only_and_the_refusal_names_the_url_not_the_token(start, tokens_file):
    backend = MemoryBackend()
    _, channel = start(backend, auth_tokens_file=tokens_file)
    assert _apply(channel, EU_TOKEN, "https://ACME.my.salesforce.com/").results[0].status == 201
    refused = _refusal(lambda: _apply(channel, EU_TOKEN, BETA))
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    assert BETA in refused.details() and "cdp-eu" in refused.details()
    info, _ = errors.details_of(rpc_status.from_call(refused))
    assert info is not None and (info.reason, info.metadata["instance_url"]) == ("ORG_NOT_ALLOWED", BETA)
    assert EU_TOKEN not in refused.details() + str(refused.trailing_metadata())
    assert backend.org_count == 1  # refused before any work: no org was opened for beta

    validate = pb.ValidateRequest(action=lead_create(), connection=pb.Connection(instance_url=BETA))
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    eu = (("authorization", f"Bearer {EU_TOKEN}"),)
    assert _refusal(lambda: stub.Validate(validate, timeout=SAFETY_LIMIT, metadata=eu)).code() is \
        grpc.StatusCode.PERMISSION_DENIED
    assert stub.Validate(pb.ValidateRequest(action=lead_create()), timeout=SAFETY_LIMIT, metadata=eu).valid
    assert _apply(channel, ADMIN_TOKEN, BETA).results[0].status == 201  # "*" reaches any org
    assert _refusal(lambda: _apply(channel, "unknown-token-0123456789", ACME)).code() is \
        grpc.StatusCode.UNAUTHENTICATED
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=SAFETY_LIMIT)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_a_shared_token_beside_the_file_still_reaches_any_org(start, tokens_file):
    _, channel = start(auth_tokens_file=tokens_file, auth_token=Secret(SHARED_TOKEN))
    assert _apply(channel, SHARED_TOKEN, BETA).results[0].status == 201
    assert _refusal(lambda: _apply(channel, EU_TOKEN, BETA)).code() is grpc.StatusCode.PERMISSION_DENIED


def test_the_file_is_re_read_when_it_changes_and_a_broken_version_keeps_the_last_good_one(start, tokens_file, tmp_path):
    _, channel = start(auth_tokens_file=tokens_file)
    assert _refusal(lambda: _apply(channel, EU_TOKEN, BETA)).code() is grpc.StatusCode.PERMISSION_DENIED
    _write(tmp_path / "tokens.json", [{"name": "cdp-eu", "token": EU_TOKEN, "instance_urls": [ACME, BETA]}])
    os.utime(tokens_file, ns=(1, 1))  # a different stamp even on a coarse clock
    assert _apply(channel, EU_TOKEN, BETA).results[0].status == 201
    assert _refusal(lambda: _apply(channel, ADMIN_TOKEN, BETA)).code() is grpc.StatusCode.UNAUTHENTICATED
    (tmp_path / "tokens.json").write_text("{not json")
    assert _apply(channel, EU_TOKEN, BETA).results[0].status == 201


@pytest.mark.parametrize(("entries", "problem"), [
    ([{"name": "a", "token": "short", "instance_urls": [ACME]}], "tokens[0] (a): the token must be at least 16"),
    ([{"name": "a", "token": EU_TOKEN, "instance_urls": []}], "instance_urls must be a non-empty list"),
    ([{"name": "a", "token": EU_TOKEN, "instance_urls": [ACME]}, {"name": "b", "token": EU_TOKEN,
                                                                  "instance_urls": [BETA]}], "b and a share a token"),
])
def test_a_bad_file_stops_the_server_at_start_naming_the_entry_never_the_token(tmp_path, entries, problem):
    path = _write(tmp_path / "tokens.json", entries)
    with pytest.raises(ConfigError) as raised:
        build_server(local_settings(auth_tokens_file=path))
    assert "SFDEST_AUTH_TOKENS_FILE" in str(raised.value) and problem in str(raised.value)
    assert EU_TOKEN not in str(raised.value)


def test_an_apply_stream_to_an_org_the_token_may_not_reach_is_refused_before_any_work(start, tokens_file):
    backend = MemoryBackend()
    _, channel = start(backend, auth_tokens_file=tokens_file)
    stub = destination_pb2_grpc.DestinationServiceStub(channel)

    def stream(instance_url: str) -> list[pb.ApplyStreamResponse]:
        first = pb.ApplyStreamRequest(connection=pb.Connection(instance_url=instance_url), action=lead_create(),
                                      events=[identify_message("e1", "a@x.io")])
        return list(stub.ApplyStream(iter([first]), timeout=SAFETY_LIMIT,
                                     metadata=(("authorization", f"Bearer {EU_TOKEN}"),)))

    assert stream(ACME)[0].results[0].result.status == 201
    refused = _refusal(lambda: stream(BETA))
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED and BETA in refused.details()
    assert backend.org_count == 1  # no org was opened for beta
