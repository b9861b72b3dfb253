"""Cross-language interop: `sfdest serve` as a subprocess, driven by the Node.js client in tests/node.

The Node client (@grpc/grpc-js + @grpc/proto-loader, loading proto/ at run time) checks every result
itself and prints a JSON summary; this test checks its exit code and that summary. A missing `node`
or tests/node/node_modules is a failure, never a skip: `make test` installs them (`make node-deps`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[3]
NODE_DIR = ROOT / "tests" / "node"
CLIENT = NODE_DIR / "client.js"
NODE_PACKAGES = ("@grpc/grpc-js", "@grpc/proto-loader")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
CLIENT_TIMEOUT_S = 90.0


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: the interop test needs Node.js 20+ (then `make node-deps`)")
    missing = [p for p in NODE_PACKAGES if not (NODE_DIR / "node_modules" / p / "package.json").is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing from {NODE_DIR / 'node_modules'}: "
                    "run `make node-deps` (npm ci --prefix tests/node); `make test` does it first")
    return node


def _sfdest_command() -> list[str]:
    script = Path(sys.executable).parent / "sfdest"
    if script.is_file():
        return [str(script), "serve"]
    found = shutil.which("sfdest")
    if found:
        return [found, "serve"]
    return [sys.executable, "-m", "server.cli", "serve"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    target: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


def _wait_serving(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer yet"
    with grpc.insecure_channel(server.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"`sfdest serve` exited with {server.process.returncode} before serving:\n"
                            f"{server.log_text()}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            time.sleep(0.2)
    pytest.fail(f"`sfdest serve` on {server.target} not SERVING after {START_TIMEOUT_S}s ({last}):\n"
                f"{server.log_text()}")


@pytest.fixture
def sfdest_server(tmp_path: Path) -> Iterator[Server]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFDEST_")}
    env.update(SFDEST_LISTEN=f"127.0.0.1:{port}", SFDEST_BACKEND="memory", SFDEST_GRACE_SECONDS="2",
               SFDEST_METRICS_LISTEN="off")
    log = tmp_path / "sfdest-serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(_sfdest_command(), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=sink, stderr=subprocess.STDOUT)
    server = Server(process, f"127.0.0.1:{port}", log)
    try:
        _wait_serving(server)
        yield server
    finally:
        if process.poll() is None:  # the test failed before stopping it
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


def test_node_client_applies_validates_and_streams_against_sfdest_serve(sfdest_server: Server):
    node = _node()
    done = subprocess.run([node, str(CLIENT), "--target", sfdest_server.target, "--proto-root", str(ROOT / "proto")],
                          cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT_S)
    assert done.returncode == 0, (f"node client exited {done.returncode}\nstderr:\n{done.stderr}\n"
                                  f"stdout:\n{done.stdout}\nserver log:\n{sfdest_server.log_text()}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"node client printed no summary; stderr:\n{done.stderr}"
    summary = json.loads(lines[-1])

    assert summary["ok"] is True
    assert summary["target"] == sfdest_server.target
    create, update, mixed, invalid = summary["apply"]
    assert {step["backend"] for step in summary["apply"]} == {"memory"}
    assert (invalid["statuses"], invalid["error_codes"]) == ([400, 400], ["INVALID_ACTION"] * 2)
    assert invalid["diagnostics"] == [{"severity": "SEVERITY_ERROR", "code": "UNKNOWN_FIELD",
                                       "field_path": "action.field_mappings[0].field"}]
    assert invalid["diagnostic_indexes"] == [[0], [0]]
    assert (create["step"], create["statuses"], create["outcomes"]) == ("create", [201], ["OUTCOME_CREATED"])
    record_id = create["record_ids"][0]
    assert record_id
    assert (update["step"], update["statuses"], update["outcomes"]) == ("update", [200], ["OUTCOME_UPDATED"])
    assert update["record_ids"] == [record_id]
    assert mixed["step"] == "mixed"
    assert mixed["statuses"] == [400, 200]
    assert mixed["outcomes"] == ["OUTCOME_INVALID", "OUTCOME_UPDATED"]
    assert mixed["event_ids"] == ["bad-1", "good-1"]
    assert mixed["record_ids"] == ["", record_id]
    assert mixed["error_codes"][0]

    validate = summary["validate"]
    assert validate["valid"] is False
    assert {"severity": "SEVERITY_ERROR", "code": "FIELD_NOT_FILTERABLE",
            "field_path": "action.record_matchers[0].field"} in validate["diagnostics"]

    stream = summary["stream"]  # positions count every message's events: message 1's first event is 2
    assert stream["statuses"] == [201, 201, 400, 201, 201, 201]
    assert stream["event_ids"] == [f"stream-{m}-{i}" for m in range(3) for i in range(2)]
    assert int(stream["salesforce_api_calls"]) > 0 and "apply" in stream["steps"]

    sfdest_server.process.send_signal(signal.SIGTERM)
    try:
        returncode = sfdest_server.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`sfdest serve` still running {STOP_TIMEOUT_S}s after SIGTERM:\n{sfdest_server.log_text()}")
    assert returncode == 0, f"`sfdest serve` exited {returncode} on SIGTERM:\n{sfdest_server.log_text()}"


def test_node_client_rejects_a_missing_target():
    node = _node()
    done = subprocess.run([node, str(CLIENT)], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT_S)
    assert done.returncode == 2
    assert "a target is required" in done.stderr
