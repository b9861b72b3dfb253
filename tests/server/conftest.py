"""Fixtures: the memory backend (spied), a container wired to it, the servicer behind grpcio-testing, real servers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from adapters.memory.store import MemoryBackend
from core.model import Connection
from server.app import Running, build_server
from server.config import Settings
from server.container import Container, build_container
from tests.builders import lead_upsert_on_email, local_settings
from tests.server.calls import TestServer
from tests.server.certs import Certificates, make_certificates


class SpyFactory:
    """Wraps a StoreFactory and records each open()'s connection and deadline."""

    def __init__(self, inner):
        self.inner = inner
        self.opened: list[tuple[Connection, float | None]] = []

    def open(self, connection: Connection, deadline: float | None = None, stop=None):
        self.opened.append((connection, deadline))
        return self.inner.open(connection, deadline, stop)


@pytest.fixture
def backend() -> SpyFactory:
    return SpyFactory(MemoryBackend())


@pytest.fixture
def settings() -> Settings:
    return Settings(max_events=5)


@pytest.fixture
def container(settings: Settings, backend: SpyFactory) -> Iterator[Container]:
    c = build_container(settings)
    c.backend.override(backend)
    yield c
    c.backend.reset_override()


@pytest.fixture
def server(container: Container) -> TestServer:
    return TestServer(container.servicer())


@pytest.fixture
def start() -> Iterator[Callable[..., tuple[Running, grpc.Channel]]]:
    """start(backend=None, **settings): a real server on a free port (metrics off unless asked), and a channel to it.

    Every server started is stopped at the end of the test.
    """
    started: list[tuple[Running, grpc.Channel]] = []

    def start_(backend: Any = None, **settings: Any) -> tuple[Running, grpc.Channel]:
        s = local_settings(**settings)
        container = build_container(s)
        if backend is not None:
            container.backend.override(backend)
        running = build_server(s, container)
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        started.append((running, channel))
        return running, channel

    yield start_
    for running, channel in started:
        channel.close()
        running.stop(0)


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certificates:
    """A CA, a server certificate for 127.0.0.1 and localhost, a client certificate, one from a stranger CA."""
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def files(tmp_path):
    """action.json (Lead upsert on Email) and events.jsonl (two identify events) in a temporary directory."""
    action = tmp_path / "action.json"
    action.write_text(json_format.MessageToJson(lead_upsert_on_email()))
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps({"id": f"e{i}", "payload": {"traits": {"email": f"p{i}@x.io",
                                                                                  "last_name": "L"}}})
                                for i in (1, 2)))
    return tmp_path
