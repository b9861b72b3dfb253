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


def _org_factory(options: Any, clock: Any) -> Any:
    """What builds each org: None for the standard org on the wall clock."""
    from adapters.memory.org_options import OrgOptions, new_org

    if options is None and clock is None:
        return None
    return lambda: new_org(options or OrgOptions(), **({"clock": clock} if clock is not None else {}))


def _memory_backend(options: Any = None, clock: Any = None) -> Backend:
    from adapters.memory.store import MemoryBackend

    run = next(_tenants)
    factory = MemoryBackend(org_factory=_org_factory(options, clock))
    return Backend("memory", factory, lambda t: Connection(f"https://{t}-{run}.my.salesforce.com"))


@pytest.fixture
def org_options() -> Any:
    """The OrgOptions of every org a test's backend opens (a test module overrides this fixture)."""
    return None


@pytest.fixture
def org_clock() -> Any:
    """The clock of every org a test's backend opens (None: the wall clock; a test module overrides this fixture,
    e.g. with tests.clocks.ticking_clock)."""
    return None


def _salesforce_backend(name: str, emulator_factory: Any, org_options: Any, org_clock: Any = None,
                        **options: Any) -> Iterator[Backend]:
    """The REST adapter over real HTTP on loopback, one emulator (one org) per tenant."""
    from adapters.salesforce import SalesforceBackend
    from core.credentials import OAuthRefreshToken
    from tools.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

    emulators: dict[str, Any] = {}
    org_factory = _org_factory(org_options, org_clock)

    def connection_for(tenant: str) -> Connection:
        if tenant not in emulators:
            emulators[tenant] = emulator_factory(org=org_factory()) if org_factory else emulator_factory()
        return Connection(emulators[tenant].base_url,
                          credentials=OAuthRefreshToken(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN))

    factory = SalesforceBackend(allow_loopback_http=True, **options)
    backend = Backend(name, factory, connection_for)
    backend.emulators = emulators
    yield backend
    factory.close()


@pytest.fixture
def salesforce_backend(emulator_factory, org_options, org_clock) -> Iterator[Backend]:
    yield from _salesforce_backend("salesforce", emulator_factory, org_options, org_clock)


@pytest.fixture
def salesforce_bulk_backend(emulator_factory, org_options, org_clock) -> Iterator[Backend]:
    """The REST adapter sending every write it can as a Bulk API 2.0 job (SFDEST_WRITE_PATH=bulk), polling fast."""
    yield from _salesforce_backend("salesforce_bulk", emulator_factory, org_options, org_clock, write_path="bulk",
                                   bulk_poll_seconds=(0.001, 0.01))


@pytest.fixture(params=["memory", "salesforce"])
def backend(request, org_options, org_clock) -> Backend:
    """Each backend in turn; a test may name others with @pytest.mark.parametrize("backend", [...], indirect=True)
    (memory, salesforce, salesforce_bulk)."""
    if request.param == "memory":
        return _memory_backend(org_options, org_clock)
    return request.getfixturevalue(f"{request.param}_backend")
