"""`python -m tools.emulator` (what `make emulator` runs): a real process that writes its connection file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_emulator_command_serves_on_the_port_and_writes_a_working_connection(tmp_path):
    port, conn = _free_port(), tmp_path / "conn.json"
    proc = subprocess.Popen([sys.executable, "-m", "tools.emulator", "--port", str(port), "--conn", str(conn)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(2400):  # a bound on polls, not on time: a loaded machine may take a while
            if conn.exists() and conn.stat().st_size or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        connection = json.loads(conn.read_text())
        assert connection["instance_url"] == f"http://127.0.0.1:{port}"
        grant = connection["oauth_refresh_token"]
        token = httpx.post(f"http://127.0.0.1:{port}/services/oauth2/token", data={
            "grant_type": "refresh_token", "client_id": grant["client_id"],
            "client_secret": grant["client_secret"], "refresh_token": grant["refresh_token"]})
        assert token.status_code == 200
        assert token.json()["instance_url"] == f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
