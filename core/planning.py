"""The batch planner's reads: one lookup for many events, and the pool that assigns candidates to events."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.coercion import match_key
from core.describe import TEXT_TYPES, ObjectDescribe
from core.model import MatcherOperator
from core.ports import FieldIn, Lookup, Record


def build_lookup(
    object_name: str, matcher_sets: Iterable[Mapping[str, Any]], operator: MatcherOperator,
    describe: ObjectDescribe | None, also_select: Iterable[str] = ()
) -> Lookup | None:
    """One lookup whose result holds every candidate of every event (grouped IN conditions)."""
    events = [m for m in matcher_sets if m]
    if not events:
        return None
    fields = list(dict.fromkeys(name for e in events for name in e))
    select = tuple(dict.fromkeys(["Id", *fields, *also_select]))
    described = {name: describe.field(name) if describe else None for name in fields}

    def distinct(values: Iterable[Any], name: str) -> tuple[Any, ...]:
        seen: dict[Any, Any] = {}
        for v in values:
            seen.setdefault(match_key(v, described[name]), v)
        return tuple(seen.values())

    if operator is MatcherOperator.OR or all(len(e) == 1 for e in events):
        where: tuple[tuple[FieldIn, ...], ...] = tuple(
            (FieldIn(name, distinct((e[name] for e in events if name in e), name)),) for name in fields)
        return Lookup(object_name, select, where)
    # AND: group events by all fields but the most varied one, which becomes an IN list.
    in_field = max(fields, key=lambda n: len(distinct((e[n] for e in events), n)))
    others = [n for n in fields if n != in_field]
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for e in events:
        groups[tuple(match_key(e[n], described[n]) for n in others)].append(e)
    where = tuple(
        (*(FieldIn(n, (members[0][n],)) for n in others),
         FieldIn(in_field, distinct((e[in_field] for e in members), in_field)))
        for members in groups.values()
    )
    return Lookup(object_name, select, where)


class CandidatePool:
    """Records that may match, indexed by matcher field, kept current as the batch is planned.

    Salesforce returned every fetched record because it equals some event's value under SOQL's
    rules, which follow the org user's locale and may differ from match_key. A fetched record that
    match_key gives to no event (an orphan) is never ignored, as ignoring it would let an upsert
    create its duplicate: it is given to the events whose values resemble its own (ignoring case,
    accents, compatibility forms and whitespace), or to every event of the lookup when none does.
    An orphan given to events with different values is ambiguous: none of them writes it. Likewise a
    record the pool holds (fetched for another event, or created by this batch) is looked up again
    before an event whose value merely resembles it creates another (`resembling`). In a cascade, the
    first group's lookup gives its orphans as above; a later group's lookup gives its own orphans to the
    events that reached that group
    (`merge`, then `claim_orphans` among the records added); the look-again before a create runs for
    every group of the cascade, in order.

    `attributes` are kept per record but not indexed (CreatedDate, LastModifiedDate...). Records the
    batch creates or updates get a batch stamp instead of a date: later than every date read.
    """

    def __init__(self, matcher_fields: Iterable[str], describe: ObjectDescribe | None,
                 attributes: Iterable[str] = ()):
        self._describe = describe
        self._fields = {name: (describe.field(name) if describe else None) for name in matcher_fields}
        self._index: dict[str, dict[Any, set[str]]] = {name: defaultdict(set) for name in self._fields}
        self._loose_index: dict[str, dict[Any, set[str]]] = {name: defaultdict(set) for name in self._fields}
        self._values: dict[str, dict[str, Any]] = {}
        self._attributes = tuple(a for a in attributes if a not in self._fields)
        self._stamps: dict[str, dict[str, int]] = defaultdict(dict)  # rid -> attribute -> batch stamp
        self._clock = 0
        self.removed: set[str] = set()
        self._orphans: dict[str, set[tuple]] = {}  # orphan id -> the matcher signatures it is given to

    @property
    def selected(self) -> tuple[str, ...]:
        """Every field and attribute the pool keeps: what a lookup that adds to it reads."""
        return (*self._fields, *self._attributes)

    def __contains__(self, rid: str) -> bool:
        return rid in self._values

    def values(self, rid: str) -> dict[str, Any]:
        return self._values.get(rid, {})

    def attribute(self, rid: str, name: str) -> Any:
        values = self._values.get(rid, {})
        return values.get(name)

    def recency(self, rid: str, name: str) -> tuple:
        """An ordering key for a date attribute: dates read, then the batch's own writes in order."""
        stamp = self._stamps[rid].get(name)
        if stamp is not None:
            return (2, stamp)
        value = self.attribute(rid, name)
        return (0, "") if value is None else (1, str(value))

    def stamp(self, rid: str, *names: str) -> None:
        self._clock += 1
        for name in names:
            self._stamps[rid][name] = self._clock

    def merge(self, records: Iterable[Record]) -> list[str]:
        """Records read after the batch began: the pool's own view of a record it holds (or removed) wins.
        The ids of the records added."""
        return [self.add(r) for r in records if str(r["Id"]) not in self._values and str(r["Id"]) not in self.removed]

    def _key(self, name: str, value: Any) -> Any:
        return match_key(value, self._fields[name])

    def add(self, record: Mapping[str, Any]) -> str:
        rid = str(record["Id"])
        values = {name: (rid if name == "Id" else _get(record, name)) for name in self._fields}
        self._values[rid] = {**values, **{a: _get(record, a) for a in self._attributes}}
        for name, value in values.items():
            self._index_value(rid, name, value)
        return rid

    def _index_value(self, rid: str, name: str, value: Any, drop: bool = False) -> None:
        if value is None:
            return
        for index, key in ((self._index, self._key(name, value)), (self._loose_index, self._loose(name, value))):
            if drop:
                index[name][key].discard(rid)
            else:
                index[name][key].add(rid)

    def has_field(self, name: str) -> bool:
        return name in self._fields

    def claim_orphans(self, matcher_sets: Sequence[Mapping[str, Any]], operator: MatcherOperator,
                      among: Iterable[str] | None = None) -> None:
        """Give each fetched record (of `among`, else every one) no event matches to the events it may belong
        to (see the class)."""
        events = [m for m in matcher_sets if m]
        if not events:
            return
        claimed = {rid for m in events for rid in self.match(m, _operator(m, operator))}
        every = {self._signature(m) for m in events}
        for rid in self._values if among is None else among:
            values = self._values[rid]
            if rid not in claimed:
                owners = {self._signature(m) for m in events if self._resembles(m, _operator(m, operator), values)}
                self._orphans[rid] = owners or every

    def resembling(self, matchers: Mapping[str, Any], operator: MatcherOperator) -> set[str]:
        """The records the pool holds that resemble these values (Salesforce may call them equal) without being
        one of their candidates: fetched for another event as much as created by this batch."""
        sets = [self._loose_index[name].get(self._loose(name, value), set()) if name in self._fields else set()
                for name, value in matchers.items()]
        if not sets:
            return set()
        alike = set.intersection(*sets) if operator is MatcherOperator.AND else set.union(*sets)
        return alike - set(self.match(matchers, operator))  # the event's own candidates were weighed already

    def loose_key(self, name: str, value: Any) -> Any:
        """A key that ignores case, accents, compatibility forms and whitespace: equal for resembling values."""
        return self._loose(name, value)

    def ambiguous(self, rid: str) -> bool:
        """True for a fetched record that may be any of several events' record."""
        return len(self._orphans.get(rid, ())) > 1

    def _signature(self, matchers: Mapping[str, Any]) -> tuple:
        return tuple(sorted((name, self._key(name, value)) for name, value in matchers.items()))

    def _resembles(self, matchers: Mapping[str, Any], operator: MatcherOperator, values: Mapping[str, Any]) -> bool:
        same = [values.get(name) is not None and self._loose(name, value) == self._loose(name, values[name])
                for name, value in matchers.items()]
        return all(same) if operator is MatcherOperator.AND else any(same)

    def _loose(self, name: str, value: Any) -> Any:
        f = self._fields.get(name)
        if not isinstance(value, str) or (f is not None and f.type not in TEXT_TYPES):
            return self._key(name, value)
        bare = "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))
        return "".join(bare.casefold().replace("\u0131", "i").split())

    def remove(self, rid: str) -> None:
        self.removed.add(rid)
        self._orphans.pop(rid, None)
        for name, value in self._values.pop(rid, {}).items():
            if name in self._fields:
                self._index_value(rid, name, value, drop=True)

    def update(self, rid: str, changes: Mapping[str, Any]) -> None:
        values = self._values.get(rid)
        if values is None:
            return
        for name in self._attributes:
            if name in changes:
                values[name] = changes[name]
        for name in self._fields:
            if name == "Id" or name not in changes:
                continue
            old, new = values[name], changes[name]
            self._index_value(rid, name, old, drop=True)
            values[name] = new
            self._index_value(rid, name, new)

    def would_match(self, rid: str, changes: Mapping[str, Any], matchers: Mapping[str, Any],
                    operator: MatcherOperator) -> bool:
        """Whether record `rid` (known, or about to be created when absent) matches `matchers` once
        `changes` are written to it."""
        known = self._values.get(rid)
        hits = []
        for name, value in matchers.items():
            if name not in self._fields:
                return False
            now = rid if name == "Id" and known is not None else _get(changes, name) if any(
                k.lower() == name.lower() for k in changes) else (known or {}).get(name)
            hits.append(now is not None and self._key(name, now) == self._key(name, value))
        return bool(hits) and (all(hits) if operator is MatcherOperator.AND else any(hits))

    def match(self, matchers: Mapping[str, Any], operator: MatcherOperator) -> list[str]:
        sets = [self._index[name].get(self._key(name, value), set()) for name, value in matchers.items()]
        if not sets:
            return []
        found = set.intersection(*sets) if operator is MatcherOperator.AND else set.union(*sets)
        if self._orphans:
            signature = self._signature(matchers)
            found |= {rid for rid, owners in self._orphans.items() if signature in owners}
        return sorted(found)


def _get(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    lowered = name.lower()
    return next((v for k, v in record.items() if k.lower() == lowered), None)


def _operator(matchers: Mapping[str, Any], operator: MatcherOperator) -> MatcherOperator:
    return MatcherOperator.OR if len(matchers) == 1 else operator


def fetched_pool(records: Iterable[Record], matcher_fields: Iterable[str], describe: ObjectDescribe | None,
                 attributes: Iterable[str] = (), matcher_sets: Sequence[Mapping[str, Any]] = (),
                 operator: MatcherOperator = MatcherOperator.OR) -> CandidatePool:
    """The pool of a lookup's records, each given to the events (matcher sets) it may belong to."""
    pool = CandidatePool(matcher_fields, describe, attributes)
    for r in records:
        pool.add(r)
    pool.claim_orphans(matcher_sets, operator)
    return pool
