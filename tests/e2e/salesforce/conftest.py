"""Fixtures for the Salesforce end-to-end suite: emulators, and REST backends with a recording fake sleep."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.salesforce import SalesforceBackend
from core.credentials import OAuthRefreshToken
from core.model import Connection
from tools.emulator.server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Emulator


class Sleeps:
    """A fake `sleep`: records each backoff and returns at once (tests count retries, never seconds)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeClock:
    """A monotonic clock that only moves when a test moves it (for caches with a time to live)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def refresh_connection(emu: Emulator, refresh_token: str = REFRESH_TOKEN) -> Connection:
    return Connection(emu.base_url, credentials=OAuthRefreshToken(CLIENT_ID, CLIENT_SECRET, refresh_token))


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def backend_factory(sleeps: Sleeps) -> Iterator[Callable[..., SalesforceBackend]]:
    """SalesforceBackend in emulator mode with the fake sleep; every backend made is closed after the test."""
    made: list[SalesforceBackend] = []

    def make(**kwargs: Any) -> SalesforceBackend:
        kwargs.setdefault("sleep", sleeps)
        kwargs.setdefault("use_composite", False)  # faults here target the collection calls themselves
        backend = SalesforceBackend(allow_loopback_http=True, **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()
