"""The Salesforce adapter over HTTP to one emulator, through the ApplyService: the harness of the adapter tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adapters.salesforce import SalesforceBackend
from core.credentials import OAuthRefreshToken
from core.model import Action, ApplyReport, Connection, Event, EventResult
from core.service import ApplyService
from tools.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Emulator

NEVER = 10**9  # a bulk threshold no test batch reaches: collections only
FAST_POLL = (0.001, 0.01)


class SteppedClock:
    """Real monotonic time at the start, then moved only by sleep (so polling costs no real time)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def connection(emu: Emulator) -> Connection:
    return Connection(emu.base_url, credentials=OAuthRefreshToken(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN))


class Harness:
    """The REST adapter over HTTP to one emulator, through the ApplyService (core unchanged)."""

    def __init__(self, emu: Emulator, bulk_threshold: int = NEVER, **backend: Any):
        """A `bulk_threshold` below NEVER forces Bulk API jobs from that many records (write_path "bulk"),
        unless the test names its own write_path."""
        self.emu = emu
        backend.setdefault("use_composite", False)  # one collection per call, unless a test asks for Composite
        backend.setdefault("write_path", "bulk" if bulk_threshold < NEVER else "auto")
        self.backend = SalesforceBackend(allow_loopback_http=True, bulk_threshold=bulk_threshold,
                                         bulk_poll_seconds=FAST_POLL, **backend)
        self.service = ApplyService(self.backend)
        self.connection = connection(emu)

    def apply(self, action: Action, events: list[Event], **kw: Any) -> ApplyReport:
        return self.service.apply(self.connection, action, events, **kw)

    def apply_one_by_one(self, action: Action, events: list[Event]) -> list[EventResult]:
        return [self.apply(action, [e]).results[0] for e in events]

    def warm(self, *objects: str) -> None:
        """Describe the objects (cached per connection with a TTL), then zero the emulator's counters."""
        store = self.backend.open(self.connection)
        for name in objects:
            store.describe(name)
        self.emu.reset_counters()

    def close(self) -> None:
        self.backend.close()


@contextmanager
def harness(emu: Emulator, bulk_threshold: int = NEVER, **backend: Any) -> Iterator[Harness]:
    h = Harness(emu, bulk_threshold, **backend)
    try:
        yield h
    finally:
        h.close()


def seed_leads(emu: Emulator, n: int, prefix: str = "lead", **fields: Any) -> list[str]:
    return [emu.org.seed("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"{prefix}{i}@example.com",
                                  **fields}) for i in range(n)]
