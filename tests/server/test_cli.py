"""The `sfdest` command: event files, apply and validate in-process and against a running server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb

from server import cli
from server.app import build_server
from server.container import build_container
from tests.builders import local_settings
from tests.server.calls import run_cli


def test_events_as_a_json_array_of_envelopes():
    events = cli.parse_events(json.dumps([{"id": "a", "payload": {"type": "identify"}},
                                          {"id": 7, "payload": {"type": "group"}}]))
    assert [(e.id, json.loads(e.payload_json)) for e in events] == [("a", {"type": "identify"}),
                                                                    ("7", {"type": "group"})]


def test_bare_events_take_their_message_id_else_their_position():
    text = "\n".join([json.dumps({"messageId": "m-1", "type": "identify"}), "",
                      json.dumps({"type": "identify", "traits": {"email": "x@y.io"}})])
    events = cli.parse_events(text)
    assert [e.id for e in events] == ["m-1", "3"]
    assert json.loads(events[1].payload_json) == {"type": "identify", "traits": {"email": "x@y.io"}}


def test_one_json_object_is_one_event_and_an_envelope_without_id_gets_its_position():
    assert [e.id for e in cli.parse_events('{\n "payload": {"a": 1}\n}')] == ["1"]
    assert [e.id for e in cli.parse_events('[{"payload": {"a": 1}}, {"payload": {"a": 2}}]')] == ["1", "2"]


def test_an_object_with_a_payload_and_other_keys_is_a_bare_event():
    [event] = cli.parse_events(json.dumps({"messageId": "m", "payload": {"x": 1}, "type": "track"}))
    assert event.id == "m" and json.loads(event.payload_json)["type"] == "track"


@pytest.mark.parametrize("text", ['{"a": 1}\nnot json', "[1, 2]"])
def test_unreadable_events_are_a_usage_error(text):
    with pytest.raises(cli.UsageError):
        cli.parse_events(text, "events.jsonl")


@pytest.fixture
def target() -> Iterator[str]:
    """A real server on a free port, on the memory backend, which keeps data between calls."""
    settings = local_settings()
    running = build_server(settings, build_container(settings))
    yield f"127.0.0.1:{running.port}"
    running.stop(0)


def test_apply_against_a_running_server_remembers_records_between_runs(capsys, files, target):
    argv = ("apply", "--action", str(files / "action.json"), str(files / "events.jsonl"), "--target", target)
    code, first, err = run_cli(capsys, *argv)
    assert code == 0
    assert [(r["event_id"], r["status"], r["outcome"]) for r in first] == [("e1", 201, "created"),
                                                                         ("e2", 201, "created")]
    assert set(first[0]) == {"event_id", "status", "outcome", "record_id", "matched_ids", "retryable", "error"}
    assert "201" in err and "created" in err and "total" in err
    code, second, _ = run_cli(capsys, *argv)
    assert [(r["status"], r["record_id"]) for r in second] == [(200, r["record_id"]) for r in first]


def test_apply_dry_run_against_a_running_server_writes_nothing(capsys, files, target):
    argv = ("apply", "--action", str(files / "action.json"), str(files / "events.jsonl"), "--target", target)
    _, dry, _ = run_cli(capsys, *argv, "--dry-run")
    assert [r["outcome"] for r in dry] == ["would_create", "would_create"]
    _, real, _ = run_cli(capsys, *argv)
    assert [r["outcome"] for r in real] == ["created", "created"]


def test_apply_in_process_uses_the_configured_backend(capsys, files, monkeypatch):
    monkeypatch.setenv("SFDEST_BACKEND", "memory")
    code, results, _ = run_cli(capsys, "apply", "--action", str(files / "action.json"), str(files / "events.jsonl"))
    assert code == 0 and [r["status"] for r in results] == [201, 201]


def test_apply_exits_1_when_an_event_fails(capsys, files, target):
    (files / "bad.jsonl").write_text('{"id": "x", "payload": {"traits": {}}}\n')
    code, results, _ = run_cli(capsys, "apply", "--action", str(files / "action.json"), str(files / "bad.jsonl"),
                            "--target", target)
    assert code == 1 and results[0]["status"] == 400 and results[0]["error"]["code"] == "MATCHER_VALUE_MISSING"


@pytest.mark.parametrize("remote", [False, True])
def test_a_malformed_request_exits_2_and_lists_the_violations(capsys, files, target, remote):
    (files / "dup.jsonl").write_text('{"id": "x", "payload": {}}\n{"id": "x", "payload": {}}\n')
    argv = ["apply", "--action", str(files / "action.json"), str(files / "dup.jsonl")]
    code, results, err = run_cli(capsys, *argv, *(["--target", target] if remote else []))
    assert code == 2 and results == []
    assert "INVALID_ARGUMENT" in err and "events[1].id: duplicates events[0].id" in err


def test_an_unreadable_action_file_exits_2_naming_it(capsys, files):
    (files / "broken.json").write_text('{"object": "Lead", "operation": "OPERATION_SMASH"}')
    code, _, err = run_cli(capsys, "apply", "--action", str(files / "broken.json"), str(files / "events.jsonl"))
    assert code == 2 and "broken.json" in err


def test_an_unreachable_target_exits_2_and_says_so(capsys, files):
    import socket

    with socket.socket() as s:  # a port that is bound but never listened on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        code, _, err = run_cli(capsys, "apply", "--action", str(files / "action.json"), str(files / "events.jsonl"),
                            "--target", f"127.0.0.1:{port}", "--timeout", "5")
    assert code == 2 and f"cannot reach a server at 127.0.0.1:{port}" in err


def test_validate_prints_diagnostics_and_exits_1_when_invalid(capsys, files, target):
    bad = pb.Action(object="Lead", operation=pb.OPERATION_UPDATE)
    bad.record_matchers.add(field="Description").value.path = "traits.bio"
    (files / "bad_action.json").write_text(json_format.MessageToJson(bad))
    code = cli.main(["validate", "--action", str(files / "bad_action.json"), "--target", target])
    out = capsys.readouterr().out
    assert code == 1
    assert any(line.split()[:3] == ["ERROR", "FIELD_NOT_FILTERABLE", "action.record_matchers[0].field"]
               for line in out.splitlines())
    assert out.splitlines()[-1].startswith("invalid: 1 error(s)")


def test_validate_exits_0_for_a_good_action_and_can_skip_the_org(capsys, files):
    assert cli.main(["validate", "--action", str(files / "action.json"), "--no-connection"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "valid: 0 error(s), 0 warning(s)"


def test_validate_checks_sample_events(capsys, files, target):
    (files / "samples.json").write_text('[{"id": "s", "payload_json": 1}, {"id": "t", "payload": {"traits": {}}}]')
    code = cli.main(["validate", "--action", str(files / "action.json"), "--events", str(files / "samples.json"),
                     "--target", target])
    out = capsys.readouterr().out
    assert code == 1 and "MATCHER_VALUE_MISSING" in out and "sample_events[1]" in out


# Validate's action argument ---------------------------------------------------------------------
def test_validate_takes_the_action_file_as_an_argument(capsys, files):
    assert cli.main(["validate", str(files / "action.json"), "--no-connection"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "valid: 0 error(s), 0 warning(s)"


@pytest.mark.parametrize("argv", [[], ["other.json", "--action", "action.json"]])
def test_validate_needs_exactly_one_action_file(capsys, files, argv):
    argv = [str(files / a) if a.endswith(".json") else a for a in argv]
    assert cli.main(["validate", *argv, "--no-connection"]) == 2
    assert "action" in capsys.readouterr().err


# Secured servers --------------------------------------------------------------------------------
TOKEN = "cli-token-0123456789abcdef"


def test_apply_sends_the_bearer_token_from_a_file_or_the_environment(capsys, files, start, tmp_path, monkeypatch):
    from server.config import Secret

    running, _ = start(auth_token=Secret(TOKEN))
    argv = ["apply", "--action", str(files / "action.json"), str(files / "events.jsonl"),
            "--target", f"127.0.0.1:{running.port}"]
    monkeypatch.delenv("SFDEST_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("SFDEST_AUTH_TOKEN_FILE", raising=False)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "UNAUTHENTICATED" in err
    (tmp_path / "token").write_text(TOKEN + "\n")
    assert run_cli(capsys, *argv, "--token-file", str(tmp_path / "token"))[0] == 0
    monkeypatch.setenv("SFDEST_AUTH_TOKEN", TOKEN)
    assert run_cli(capsys, *argv)[0] == 0


def test_apply_over_mutual_tls(capsys, files, start, certs):
    running, _ = start(tls_cert_file=str(certs.server.cert), tls_key_file=str(certs.server.key),
                       tls_client_ca_file=str(certs.ca))
    argv = ["apply", "--action", str(files / "action.json"), str(files / "events.jsonl"),
            "--target", f"127.0.0.1:{running.port}", "--ca-file", str(certs.ca), "--timeout", "10"]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "the TLS handshake with" in err  # no client certificate: the handshake is refused
    code, results, _ = run_cli(capsys, *argv, "--cert-file", str(certs.client.cert), "--key-file", str(certs.client.key))
    assert code == 0 and [r["status"] for r in results] == [201, 201]


def test_a_pretty_printed_array_is_read_whole_and_its_errors_name_the_line():
    assert [e.id for e in cli.parse_events('[\n  {"id": "a", "payload": {}},\n  {"id": "b", "payload": {}}\n]')] \
        == ["a", "b"]
    with pytest.raises(cli.UsageError, match="line 3: not JSON"):
        cli.parse_events('[\n  {"id": "a", "payload": {}},\n  {"id": "b" "payload": {}}\n]', "events.json")


def test_json_lines_that_are_not_utf8_are_a_usage_error():
    from server.eventfile import iter_events

    with pytest.raises(cli.UsageError, match="line 2: not UTF-8"):
        list(iter_events([b'{"id": "a"}\n', b'{"id": "\xff"}\n'], "events.jsonl"))
