"""The batch planner: one lookup for many events, candidates assigned per event, writes in rounds.

Events that resolve to the same record are written in event order, one round each, so the later
value of a field wins and none is lost; a record created earlier in the batch is a candidate for
later events, so two upserts for the same new key create one record.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.coercion import match_key
from core.describe import ObjectDescribe
from core.model import MatcherOperator
from core.ports import FieldIn, Lookup, Record
from core.preparation import Prepared

VIRTUAL_PREFIX = "new:"


@dataclass
class Write:
    kind: str  # create | update | delete | upsert
    event: Prepared
    target: str  # a record id, a virtual id of a record created in this batch, or an external key
    record: dict[str, Any] = field(default_factory=dict)
    round: int = 0


def is_virtual(target: str) -> bool:
    return target.startswith(VIRTUAL_PREFIX)


def build_lookup(
    object_name: str, events: Iterable[Prepared], operator: MatcherOperator, describe: ObjectDescribe | None
) -> Lookup | None:
    """One lookup whose result holds every candidate of every event (grouped IN conditions)."""
    events = [e for e in events if e.matchers]
    if not events:
        return None
    fields = list(dict.fromkeys(name for e in events for name in e.matchers))
    select = tuple(dict.fromkeys(["Id", *fields]))

    def distinct(values: Iterable[Any], name: str) -> tuple[Any, ...]:
        f = describe.field(name) if describe else None
        seen: dict[Any, Any] = {}
        for v in values:
            seen.setdefault(match_key(v, f), v)
        return tuple(seen.values())

    if operator is MatcherOperator.OR:
        where = tuple(
            (FieldIn(name, distinct((e.matchers[name] for e in events if name in e.matchers), name)),)
            for name in fields
        )
        return Lookup(object_name, select, where)
    # AND: group events by all fields but the most varied one, which becomes an IN list.
    in_field = max(fields, key=lambda n: len(distinct((e.matchers[n] for e in events), n)))
    others = [n for n in fields if n != in_field]
    groups: dict[tuple, list[Prepared]] = defaultdict(list)
    for e in events:
        groups[tuple(match_key(e.matchers[n], describe.field(n) if describe else None) for n in others)].append(e)
    where = tuple(
        (*(FieldIn(n, (members[0].matchers[n],)) for n in others),
         FieldIn(in_field, distinct((e.matchers[in_field] for e in members), in_field)))
        for members in groups.values()
    )
    return Lookup(object_name, select, where)


class CandidatePool:
    """Records that may match, indexed by matcher field, kept current as the batch is planned."""

    def __init__(self, matcher_fields: Iterable[str], describe: ObjectDescribe | None):
        self._describe = describe
        self._fields = {name: (describe.field(name) if describe else None) for name in matcher_fields}
        self._index: dict[str, dict[Any, set[str]]] = {name: defaultdict(set) for name in self._fields}
        self._values: dict[str, dict[str, Any]] = {}
        self._virtual = itertools.count(1)

    def _key(self, name: str, value: Any) -> Any:
        return match_key(value, self._fields[name])

    def add(self, record: Mapping[str, Any], record_id: str | None = None) -> str:
        rid = record_id or str(record["Id"])
        values = {name: (rid if name == "Id" else _get(record, name)) for name in self._fields}
        self._values[rid] = values
        for name, value in values.items():
            if value is not None:
                self._index[name][self._key(name, value)].add(rid)
        return rid

    def add_virtual(self, record: Mapping[str, Any]) -> str:
        return self.add(record, f"{VIRTUAL_PREFIX}{next(self._virtual)}")

    def remove(self, rid: str) -> None:
        for name, value in self._values.pop(rid, {}).items():
            if value is not None:
                self._index[name][self._key(name, value)].discard(rid)

    def update(self, rid: str, changes: Mapping[str, Any]) -> None:
        values = self._values.get(rid)
        if values is None:
            return
        for name in self._fields:
            if name == "Id" or name not in changes:
                continue
            old, new = values[name], changes[name]
            if old is not None:
                self._index[name][self._key(name, old)].discard(rid)
            values[name] = new
            if new is not None:
                self._index[name][self._key(name, new)].add(rid)

    def match(self, matchers: Mapping[str, Any], operator: MatcherOperator) -> list[str]:
        sets = [self._index[name].get(self._key(name, value), set()) for name, value in matchers.items()]
        if not sets:
            return []
        found = set.intersection(*sets) if operator is MatcherOperator.AND else set.union(*sets)
        return sorted(found)


def _get(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    lowered = name.lower()
    return next((v for k, v in record.items() if k.lower() == lowered), None)


def fetched_pool(records: Iterable[Record], matcher_fields: Iterable[str], describe) -> CandidatePool:
    pool = CandidatePool(matcher_fields, describe)
    for r in records:
        pool.add(r)
    return pool


def assign_rounds(writes: list[Write]) -> None:
    """Each write goes one round after the previous write to the same target."""
    last: dict[str, int] = {}
    for w in writes:
        w.round = last.get(w.target, -1) + 1
        last[w.target] = w.round
