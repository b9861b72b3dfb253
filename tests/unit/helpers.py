"""Builders for actions and events used by the core tests."""

from __future__ import annotations

from core.model import (
    Action,
    Connection,
    Event,
    FieldMapping,
    MatcherOperator,
    Operation,
    Preset,
    RecordMatcher,
    ValueSource,
)

CONN = Connection("https://acme.my.salesforce.com")
OTHER_TENANT = Connection("https://globex.my.salesforce.com")

LEAD_FIELDS = (
    FieldMapping("LastName", ValueSource.of_path("traits.last_name")),
    FieldMapping("Company", ValueSource.of_path("traits.company")),
    FieldMapping("Email", ValueSource.of_path("traits.email")),
    FieldMapping("FirstName", ValueSource.of_path("traits.first_name")),
)


def matcher(field: str, *paths: str) -> RecordMatcher:
    return RecordMatcher(field, ValueSource.of_path(*paths))


def lead_action(
    operation: Operation,
    matchers: tuple[RecordMatcher, ...] = (),
    operator: MatcherOperator | None = None,
    mappings: tuple[FieldMapping, ...] = LEAD_FIELDS,
    preset: Preset | None = None,
    object_name: str = "Lead",
) -> Action:
    if operation is not Operation.CREATE and not matchers:
        matchers = (matcher("Email", "traits.email"),)
    return Action(object_name, operation, matchers, operator, mappings, preset)


def identify(event_id: str, **traits) -> Event:
    traits.setdefault("last_name", "Ng")
    traits.setdefault("company", "Acme")
    return Event(event_id, {"type": "identify", "userId": f"user-{event_id}", "traits": traits})
