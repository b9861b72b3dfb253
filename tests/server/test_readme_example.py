"""The README's worked example, command for command: 201, then 200, then 300 with two candidate ids."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.server.serving import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "examples"


def sfdest_apply(port: int, action: str) -> tuple[int, list[dict]]:
    """`sfdest apply --target ... --action tests/examples/<action> tests/examples/identify-ann.jsonl`."""
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "apply", "--target", f"127.0.0.1:{port}",
         "--action", str(EXAMPLES / action), str(EXAMPLES / "identify-ann.jsonl")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_readme_example_creates_updates_then_reports_two_candidates():
    served = start_server()
    try:
        code, [created] = sfdest_apply(served.port, "lead-upsert.json")
        assert (code, created["status"], created["event_id"]) == (0, 201, "evt-1")
        code, [updated] = sfdest_apply(served.port, "lead-upsert.json")
        assert (code, updated["status"], updated["record_id"]) == (0, 200, created["record_id"])
        code, [second] = sfdest_apply(served.port, "lead-create.json")
        assert second["status"] == 201 and second["record_id"] != created["record_id"]
        code, [ambiguous] = sfdest_apply(served.port, "lead-upsert.json")
        assert ambiguous["status"] == 300
        assert sorted(ambiguous["matched_ids"]) == sorted([created["record_id"], second["record_id"]])
        assert code == 1  # the CLI exits 1 when any event did not succeed
    finally:
        stop_server(served)


def test_readme_validate_example_names_each_problem():
    done = subprocess.run([sys.executable, "-m", "server.cli", "validate", "--action",
                           str(EXAMPLES / "lead-invalid.json")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    for expected in ("FIELD_NOT_FILTERABLE", "action.record_matchers[0].field", "INVALID_NAME",
                     "action.field_mappings[0].field", "UNKNOWN_FIELD", "action.field_mappings[1].field",
                     "REQUIRED_FIELD_NOT_MAPPED"):
        assert expected in done.stdout, done.stdout
