"""The live records of one object, in creation order, indexed by their lookup and unique fields."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from core.coercion import match_key
from core.describe import FieldDescribe, ObjectDescribe

# value, field -> a hashable key; two values are SOQL-equal in that field exactly when their keys are.
KeyFunction = Callable[[Any, FieldDescribe], Any]


class Table:
    """Not thread-safe by itself: the Org holds its lock around every use.

    Fields usable as keys (idLookup or unique) get a hash index on their match key, so upserts,
    uniqueness checks and `IN` lookups stay fast on large orgs. `key` decides equality
    (core.coercion.match_key unless the owner brings its own, as the emulator does).
    """

    def __init__(self, describe: ObjectDescribe, key: KeyFunction = match_key):
        self.describe = describe
        self.key = key
        self._rows: dict[str, dict[str, Any]] = {}
        self._order: dict[str, int] = {}
        self._sequence = itertools.count()
        self._indexed: dict[str, FieldDescribe] = {
            f.name: f for f in describe.fields if f.id_lookup or f.unique or f.name == "Id"}
        self._index: dict[str, dict[Any, set[str]]] = {name: defaultdict(set) for name in self._indexed}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._rows

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self._rows.get(record_id)

    def rows(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows.values())

    def in_order(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        return [self._rows[i] for i in sorted(ids, key=self._order.__getitem__)]

    def is_indexed(self, field_name: str) -> bool:
        return field_name in self._index

    def ids_with(self, field: FieldDescribe, value: Any) -> set[str]:
        """Ids of the records whose `field` equals `value` under SOQL equality."""
        return self.ids_with_key(field, self.key(value, field))

    def ids_with_key(self, field: FieldDescribe, key: Any) -> set[str]:
        """Ids of the records whose `field` has this match key (see `key`)."""
        if field.name in self._index:
            return set(self._index[field.name].get(key, ()))
        return {rid for rid, row in self._rows.items() if self.key(row.get(field.name), field) == key}

    def duplicate_of(self, values: dict[str, Any], own_id: str) -> tuple[str, str] | None:
        """(field, other record id) when a unique field's value is already taken by another record."""
        for name, value in values.items():
            f = self.describe.field(name)
            if value is not None and f is not None and f.unique:
                others = sorted(self.ids_with(f, value) - {own_id}, key=self._order.__getitem__)
                if others:
                    return f.name, others[0]
        return None

    def rekey(self, key: KeyFunction) -> None:
        """Compare with `key` from now on, rebuilding every index."""
        self.key = key
        self._index = {name: defaultdict(set) for name in self._indexed}
        for rid, row in self._rows.items():
            self._reindex(rid, None, row)

    def insert(self, record_id: str, record: dict[str, Any]) -> None:
        self._rows[record_id] = record
        self._order[record_id] = next(self._sequence)
        self._reindex(record_id, None, record)

    def replace(self, record_id: str, record: dict[str, Any]) -> None:
        old = self._rows[record_id]
        self._rows[record_id] = record
        self._reindex(record_id, old, record)

    def remove(self, record_id: str) -> dict[str, Any]:
        old = self._rows.pop(record_id)
        del self._order[record_id]
        self._reindex(record_id, old, None)
        return old

    def _reindex(self, record_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        for name, f in self._indexed.items():
            before = self.key(old.get(name), f) if old else None
            after = self.key(new.get(name), f) if new else None
            if before == after and old is not None and new is not None:
                continue
            if before is not None:
                bucket = self._index[name][before]
                bucket.discard(record_id)
                if not bucket:
                    del self._index[name][before]
            if after is not None:
                self._index[name][after].add(record_id)
