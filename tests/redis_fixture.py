"""A real `redis-server` on a free loopback port, one per test session (per xdist worker), for the Redis
adapter's tests and the multi-replica suite. `make test` installs redis-server when it is missing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

STARTUP_LIMIT = 30.0  # a safety net, never asserted


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int
    workdir: str = ""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        raise AssertionError("redis-server not found: `make test` installs it (apt-get install -y redis-server, as "
                             "root); elsewhere install Redis 6+ so that redis-server is on PATH")
    workdir = tempfile.mkdtemp(prefix="sfdest-redis-")
    for _ in range(5):  # another process may take the free port before redis binds it
        port = _free_port()
        process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = RedisServer(process, port, workdir)
        limit = time.monotonic() + STARTUP_LIMIT
        while process.poll() is None and time.monotonic() < limit:
            try:
                if server.client().ping():
                    return server
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        process.kill()
        process.wait()
    raise AssertionError("redis-server did not start on a free loopback port")


def stop_redis(server: RedisServer) -> None:
    server.process.kill()
    server.process.wait()
    shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real Redis for the session; tests that need it empty call `flushall` first."""
    server = start_redis()
    yield server
    stop_redis(server)
