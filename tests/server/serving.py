"""Run `sfdest serve` as a real process on a free port for end-to-end tests, and stop it."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
# Safety nets so a broken server fails the test instead of hanging it; nothing asserts on time.
STARTUP_LIMIT, CALL_LIMIT = 60.0, 30.0
GRACE = 5


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    channel: grpc.Channel
    reader: threading.Thread
    log: list[str] = field(default_factory=list)  # stderr, line by line
    out: list[str] = field(default_factory=list)  # stdout, line by line
    out_reader: threading.Thread | None = None

    @property
    def stub(self) -> destination_pb2_grpc.DestinationServiceStub:
        return destination_pb2_grpc.DestinationServiceStub(self.channel)


def _pump(stream, lines: queue.Queue, log: list[str]) -> None:
    for line in stream:
        log.append(line.rstrip("\n"))
        lines.put(line)
    lines.put(None)


def start_server(env: dict[str, str | None] | None = None, command: tuple[str, ...] = ("-m", "server.cli", "serve"),
                 listening_host: str = r"127\.0\.0\.1") -> Served:
    """`sfdest serve` on port 0 (the kernel picks a free port: safe under pytest-xdist); the log says which.

    `env` adds to the environment; a None value removes the variable.
    """
    merged = {**os.environ, "SFDEST_LISTEN": "127.0.0.1:0", "SFDEST_BACKEND": "memory",
              "SFDEST_GRACE_SECONDS": str(GRACE), "SFDEST_LOG_LEVEL": "INFO", "SFDEST_METRICS_LISTEN": "",
              "PYTHONUNBUFFERED": "1", **(env or {})}
    environment = {name: value for name, value in merged.items() if value is not None}
    process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    log: list[str] = []
    out: list[str] = []
    reader = threading.Thread(target=_pump, args=(process.stderr, lines, log), daemon=True)
    reader.start()
    out_reader = threading.Thread(target=_pump, args=(process.stdout, queue.Queue(), out), daemon=True)
    out_reader.start()
    while True:
        try:
            line = lines.get(timeout=STARTUP_LIMIT)
        except queue.Empty:
            process.kill()
            raise AssertionError("sfdest serve never said where it listens:\n" + "\n".join(log)) from None
        if line is None:
            raise AssertionError(f"sfdest serve exited with {process.wait()}:\n" + "\n".join(log))
        found = re.search(rf"listening on {listening_host}:(\d+)", line)
        if found:
            port = int(found.group(1))
            break
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return Served(process, port, channel, reader, log, out, out_reader)


def stop_server(served: Served) -> None:
    served.channel.close()
    if served.process.poll() is None:
        served.process.kill()
        served.process.wait()


# `sfdest serve` with the Salesforce backend against the emulator (plain http on loopback).
SALESFORCE_ENV = {"SFDEST_BACKEND": "salesforce", "SFDEST_SALESFORCE_ALLOW_LOOPBACK_HTTP": "true",
                  "SFDEST_GRACE_SECONDS": "1"}


@contextmanager
def serving_salesforce(**env: str) -> Iterator[Served]:
    """`sfdest serve` with the Salesforce backend in emulator mode (plus `env`), stopped after."""
    served = start_server({**SALESFORCE_ENV, **env})
    try:
        yield served
    finally:
        stop_server(served)


def apply(served: Served, conn: pb.Connection, act: pb.Action, *events: pb.Event) -> pb.ApplyResponse:
    """One Apply over the served channel (waiting for the server to be ready)."""
    request = pb.ApplyRequest(action=act, events=list(events), connection=conn)
    return served.stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)
