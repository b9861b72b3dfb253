"""`sfdest apply` on big files: lazy reading, batches in order, progress, the summary, a stream cut short."""

from __future__ import annotations

import io
import json

import pytest
from sfdest.v1 import destination_pb2 as pb

from adapters.memory.store import MemoryBackend
from server import cli
from tests.server.calls import run_cli
from tests.server.conftest import SpyFactory


def _write_events(path, n: int, bad_line: int | None = None) -> None:
    with path.open("w") as f:
        for i in range(1, n + 1):
            if i == bad_line:
                f.write("not json\n")
            else:
                f.write(json.dumps({"id": f"e{i}", "payload": {"traits": {"email": f"p{i}@x.io", "last_name": "L"}}})
                        + "\n")


@pytest.fixture
def spied(start):
    backend = SpyFactory(MemoryBackend())
    running, _ = start(backend)
    return f"127.0.0.1:{running.port}", backend


def test_apply_streams_a_file_in_batches_of_1000_keeping_order_and_summing_up(capsys, files, tmp_path, spied):
    target, backend = spied
    _write_events(tmp_path / "many.jsonl", 2500)
    code, results, err = run_cli(capsys, "apply", "--action", str(files / "action.json"), str(tmp_path / "many.jsonl"),
                              "--target", target)
    assert code == 0
    assert len(backend.opened) == 3  # one store per Apply call
    assert [r["event_id"] for r in results] == [f"e{i}" for i in range(1, 2501)]
    assert {r["status"] for r in results} == {201}
    rows = [line.split() for line in err.splitlines()]
    assert ["201", "created", "2,500"] in rows and ["total", "2,500"] in rows
    assert any(line.startswith("batches: 3,") for line in err.splitlines())


def test_the_batch_size_is_an_option_and_the_summary_counts_each_status(capsys, files, tmp_path, spied):
    target, backend = spied
    _write_events(tmp_path / "some.jsonl", 7)
    (tmp_path / "mixed.jsonl").write_text((tmp_path / "some.jsonl").read_text() + '{"id": "x", "payload": {}}\n')
    code, results, err = run_cli(capsys, "apply", "--action", str(files / "action.json"), str(tmp_path / "mixed.jsonl"),
                              "--target", target, "--batch-size", "3")
    assert code == 1 and len(backend.opened) == 3 and len(results) == 8
    rows = [line.split() for line in err.splitlines()]
    assert ["201", "created", "7"] in rows and ["400", "invalid", "1"] in rows and ["total", "8"] in rows


def test_events_are_read_lazily_batch_by_batch(capsys, files, monkeypatch):
    lines = [json.dumps({"id": f"e{i}", "payload": {"traits": {"email": f"{i}@x.io", "last_name": "L"}}})
             for i in range(5000)]
    raw = io.BytesIO(("\n".join(lines) + "\n").encode())
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(raw))
    read_at_call: list[int] = []

    def fake_caller(args, method):
        def call(request):
            read_at_call.append(raw.tell())
            return pb.ApplyResponse(results=[pb.EventResult(event_id=e.id, status=201) for e in request.events])
        return call

    monkeypatch.setattr(cli, "_caller", fake_caller)
    code, results, _ = run_cli(capsys, "apply", "--action", str(files / "action.json"), "-")
    assert code == 0 and len(results) == 5000 and len(read_at_call) == 5
    total = len(raw.getvalue())
    assert read_at_call[0] < total / 4  # the first batch went out with most of the input still unread
    assert read_at_call == sorted(read_at_call)


def test_progress_goes_to_stderr_with_the_flag_and_not_without(capsys, files, tmp_path, spied):
    target, _ = spied
    _write_events(tmp_path / "some.jsonl", 5)
    argv = ("apply", "--action", str(files / "action.json"), str(tmp_path / "some.jsonl"), "--target", target,
            "--batch-size", "2")
    _, _, quiet = run_cli(capsys, *argv)
    _, _, loud = run_cli(capsys, *argv, "--progress")
    progress = [line for line in loud.splitlines() if line.startswith("sfdest: ")]
    assert [line.split(" (")[0] for line in progress] == [
        "sfdest: 2 events in 1 batch, 0 not ok", "sfdest: 4 events in 2 batches, 0 not ok",
        "sfdest: 5 events in 3 batches, 0 not ok"]
    assert progress[-1].endswith("(100% of the file)")
    assert not [line for line in quiet.splitlines() if line.startswith("sfdest: ")]


def test_a_bad_line_stops_the_stream_after_what_was_applied(capsys, files, tmp_path, spied):
    target, backend = spied
    _write_events(tmp_path / "broken.jsonl", 30, bad_line=25)
    code, results, err = run_cli(capsys, "apply", "--action", str(files / "action.json"), str(tmp_path / "broken.jsonl"),
                              "--target", target, "--batch-size", "10")
    assert code == 2 and len(results) == 20 and len(backend.opened) == 2
    assert "broken.jsonl line 25: not JSON" in err and "stopped after the first 20 events" in err


def test_an_empty_events_file_sends_nothing(capsys, files, tmp_path, spied):
    target, backend = spied
    (tmp_path / "empty.jsonl").write_text("\n\n")
    code, _, err = run_cli(capsys, "apply", "--action", str(files / "action.json"), str(tmp_path / "empty.jsonl"),
                        "--target", target)
    assert code == 2 and "no events" in err and backend.opened == []


@pytest.mark.parametrize("size", ["0", "-5", "many"])
def test_a_bad_batch_size_is_a_usage_error(capsys, files, size):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["apply", "--action", str(files / "action.json"), str(files / "events.jsonl"), "--batch-size", size])
    assert exit_.value.code == 2




def test_an_invalid_actions_problems_are_printed_once_however_many_batches(capsys, tmp_path, spied):
    target, _ = spied
    _write_events(tmp_path / "some.jsonl", 5)
    (tmp_path / "bad.json").write_text(json.dumps({"object": "Lead", "operation": "OPERATION_CREATE", "fieldMappings": [
        {"field": "LastName", "value": {"path": "traits.last_name"}}, {"field": "Company", "value": {"literal": "C"}},
        {"field": "Shoe_Size__c", "value": {"path": "traits.shoe"}}]}))
    code, results, err = run_cli(capsys, "apply", "--action", str(tmp_path / "bad.json"), str(tmp_path / "some.jsonl"),
                                 "--target", target, "--batch-size", "2")
    assert code == 1 and {(r["status"], r["error"]["code"]) for r in results} == {(400, "INVALID_ACTION")}
    problems = [line for line in err.splitlines() if "Shoe_Size__c" in line]
    assert len(problems) == 1 and problems[0].split()[:3] == ["ERROR", "UNKNOWN_FIELD", "action.field_mappings[2].field"]
