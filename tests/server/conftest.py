"""Fixtures: the memory backend (spied), a container wired to it, and the servicer behind grpcio-testing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.memory.store import MemoryBackend
from core.model import Connection
from server.config import Settings
from server.container import Container, build_container
from tests.server.builders import TestServer


class SpyFactory:
    """Wraps a StoreFactory and records each open()'s connection and deadline."""

    def __init__(self, inner):
        self.inner = inner
        self.opened: list[tuple[Connection, float | None]] = []

    def open(self, connection: Connection, deadline: float | None = None):
        self.opened.append((connection, deadline))
        return self.inner.open(connection, deadline)


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
