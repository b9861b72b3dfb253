"""Builders for the batch tests: an ApplyService over SalesforceBackend and the emulator, events, actions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adapters.salesforce import SalesforceBackend
from core.credentials import OAuthRefreshToken
from core.model import (
    Action,
    ApplyReport,
    Connection,
    Event,
    EventResult,
    FieldMapping,
    MatcherOperator,
    Operation,
    RecordMatcher,
    ValueSource,
)
from core.service import ApplyService
from tools.emulator import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Emulator

SUB = "Subscription__c"
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
        self.emu = emu
        backend.setdefault("use_composite", False)  # one collection per call, unless a test asks for Composite
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


def path(*paths: str) -> ValueSource:
    return ValueSource.of_path(*paths)


def matcher(field: str, *paths: str) -> RecordMatcher:
    return RecordMatcher(field, path(*paths))


LEAD_FIELDS = (FieldMapping("LastName", path("traits.last_name")), FieldMapping("Company", path("traits.company")),
               FieldMapping("Email", path("traits.email")), FieldMapping("FirstName", path("traits.first_name")),
               FieldMapping("Phone", path("traits.phone")), FieldMapping("Title", path("traits.title")))


def lead(operation: Operation, *matchers: RecordMatcher, operator: MatcherOperator | None = None,
         mappings: tuple[FieldMapping, ...] = LEAD_FIELDS) -> Action:
    if operation is not Operation.CREATE and not matchers:
        matchers = (matcher("Email", "traits.email"),)
    return Action("Lead", operation, matchers, operator, mappings if operation is not Operation.DELETE else ())


def by_id(operation: Operation) -> Action:
    return lead(operation, matcher("Id", "traits.lead_id"))


def subscription_upsert() -> Action:
    return Action(SUB, Operation.UPSERT, (matcher("External_Id__c", "properties.sub_id"),), None,
                  (FieldMapping("Plan__c", path("properties.plan")), FieldMapping("Seats__c", path("properties.seats"))))


def identify(event_id: str, **traits: Any) -> Event:
    return Event(event_id, {"type": "identify", "userId": f"u-{event_id}", "traits": traits})


def person(event_id: str, email: str, **traits: Any) -> Event:
    """An identify with the fields a Lead needs (LastName, Company) unless given."""
    traits.setdefault("last_name", "Ng")
    traits.setdefault("company", "Acme")
    return identify(event_id, email=email, **traits)


def track(event_id: str, **properties: Any) -> Event:
    return Event(event_id, {"type": "track", "userId": f"u-{event_id}", "properties": properties})


def seed_leads(emu: Emulator, n: int, prefix: str = "lead", **fields: Any) -> list[str]:
    return [emu.org.seed("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"{prefix}{i}@example.com",
                                  **fields}) for i in range(n)]


def summary(report) -> list[tuple[int, str, str]]:
    """(status, outcome, error code) per event."""
    return [(r.status, r.outcome.name, r.error.code if r.error else "") for r in report.results]
