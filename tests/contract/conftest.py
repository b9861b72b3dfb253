"""One contract suite, every adapter: each test runs against each backend that implements the ports."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from core.model import Connection
from core.ports import RecordStore, StoreFactory

_tenants = itertools.count(1)


@dataclass
class Backend:
    name: str
    factory: StoreFactory
    connection_for: Any  # tenant name -> Connection
    emulators: Any = None

    def store(self, tenant: str = "acme") -> RecordStore:
        return self.factory.open(self.connection_for(tenant))


def _memory_backend() -> Backend:
    from adapters.memory.store import MemoryBackend

    run = next(_tenants)
    return Backend("memory", MemoryBackend(), lambda t: Connection(f"https://{t}-{run}.my.salesforce.com"))


@pytest.fixture
def salesforce_backend(emulator_factory) -> Iterator[Backend]:
    """The REST adapter over real HTTP on loopback, one emulator (one org) per tenant."""
    from adapters.salesforce import SalesforceBackend
    from core.credentials import OAuthRefreshToken
    from tools.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

    emulators: dict[str, Any] = {}

    def connection_for(tenant: str) -> Connection:
        if tenant not in emulators:
            emulators[tenant] = emulator_factory()
        return Connection(emulators[tenant].base_url,
                          credentials=OAuthRefreshToken(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN))

    factory = SalesforceBackend(allow_loopback_http=True)
    backend = Backend("salesforce", factory, connection_for)
    backend.emulators = emulators
    yield backend
    factory.close()


@pytest.fixture(params=["memory", "salesforce"])
def backend(request) -> Backend:
    return _memory_backend() if request.param == "memory" else request.getfixturevalue("salesforce_backend")
