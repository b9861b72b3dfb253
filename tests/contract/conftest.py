"""One contract suite, every adapter: each test runs against each backend that implements the ports."""

from __future__ import annotations

import itertools
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

    def store(self, tenant: str = "acme") -> RecordStore:
        return self.factory.open(self.connection_for(tenant))


def _memory_backend() -> Backend:
    from adapters.memory.store import MemoryBackend

    run = next(_tenants)
    return Backend("memory", MemoryBackend(), lambda t: Connection(f"https://{t}-{run}.my.salesforce.com"))


BACKENDS = {"memory": _memory_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request) -> Backend:
    return BACKENDS[request.param]() if request.param == "memory" else request.getfixturevalue(request.param)
