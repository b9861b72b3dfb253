"""`sfdest serve` as a subprocess for the bench: start, find its port, reset and read its peak RSS, stop."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import grpc
from sfdest.v1 import destination_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT = 60.0
MESSAGE_BYTES = 1024 * 1024 * 1024  # a client may send what the server's SFDEST_MAX_MESSAGE_MB allows


class ServerProcess:
    """The gRPC server with the Salesforce backend (loopback HTTP allowed, for the emulator)."""

    def __init__(self, max_events: int = 10_000, extra_env: dict[str, str] | None = None):
        env = {**os.environ, "SFDEST_LISTEN": "127.0.0.1:0", "SFDEST_BACKEND": "salesforce",
               "SFDEST_SALESFORCE_ALLOW_LOOPBACK_HTTP": "true", "SFDEST_MAX_EVENTS": str(max_events),
               "SFDEST_MAX_MESSAGE_MB": "64", "SFDEST_METRICS_LISTEN": "off", "SFDEST_LOG_LEVEL": "INFO",
               "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        self.port = self._wait_for_port(lines)
        options = [("grpc.max_send_message_length", MESSAGE_BYTES), ("grpc.max_receive_message_length", MESSAGE_BYTES)]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=options)
        self.stub = destination_pb2_grpc.DestinationServiceStub(self.channel)

    def _pump(self, lines: queue.Queue[str | None]) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip("\n"))
            del self.log[:-200]
            lines.put(line)
        lines.put(None)

    def _wait_for_port(self, lines: queue.Queue[str | None]) -> int:
        while True:
            try:
                line = lines.get(timeout=STARTUP_LIMIT)
            except queue.Empty:
                self.stop()
                raise RuntimeError("sfdest serve never said where it listens:\n" + "\n".join(self.log)) from None
            if line is None:
                raise RuntimeError(f"sfdest serve exited with {self.process.wait()}:\n" + "\n".join(self.log))
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if found:
                return int(found.group(1))

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM to the current RSS (Linux clear_refs 5); False where that is not allowed."""
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def peak_rss_mb(self) -> float | None:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(found.group(1)) / 1024 if found else None

    def stop(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
