"""Reading one in-memory org: describe, query, select and get, with Salesforce's errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from adapters.memory.query import column, matching_among, matching_rows, project, select_names
from adapters.memory.record_rules import Refusal, id_label, malformed_id
from adapters.memory.results import DELETED_MESSAGE, NOT_FOUND_MESSAGE, OrgError, unknown_object_in_query
from adapters.memory.table import KeyFunction, Table
from core.describe import FieldDescribe, ObjectDescribe
from core.names import normalize_id
from core.ports import Conjunction, Lookup


class OrgReads:
    """The read side of Org (see adapters.memory.org.Org): tables, lock and recycle bin are set up there."""

    _lock: threading.RLock
    _tables: dict[str, Table]
    _deleted: dict[str, str]
    _recycled: dict[str, dict[str, Any]]
    _key: KeyFunction
    schema_version: int

    # Describe ------------------------------------------------------------------------------------
    def describe(self, object_name: str) -> ObjectDescribe:
        """The object's describe; OrgError NOT_FOUND (404) for an unknown object, as REST answers."""
        table = self._tables.get(object_name.lower())
        if table is None:
            raise OrgError("NOT_FOUND", NOT_FOUND_MESSAGE, status=404)
        return table.describe

    def global_describe(self) -> list[ObjectDescribe]:
        """Every object of the org, in catalog order (feed to catalog.global_describe_json)."""
        return [t.describe for t in self._tables.values()]

    def add_object(self, describe: ObjectDescribe) -> None:
        """Add (or replace, dropping its records) an object, e.g. a test's own custom object."""
        with self._lock:
            self._tables[describe.name.lower()] = Table(describe, self._key)
            self.schema_version += 1

    def object_of_id(self, record_id: str) -> str | None:
        """The object an id belongs to, by key prefix (collections delete may mix types); None if unknown."""
        canonical = normalize_id(record_id) if isinstance(record_id, str) else None
        if canonical is None:
            return None
        return next((t.describe.name for t in self._tables.values() if t.describe.key_prefix == canonical[:3]), None)

    # Reads ---------------------------------------------------------------------------------------
    def query_field(self, object_name: str, field_name: str, *, filtering: bool = False) -> FieldDescribe:
        """The field as a query names it; OrgError INVALID_FIELD (unknown, or not filterable in WHERE)."""
        return column(self._query_table(object_name).describe, field_name, filtering)

    def match_key(self, object_name: str, field_name: str, value: Any) -> Any:
        """The SOQL equality key of `value` in that field (equal keys = equal in a WHERE clause)."""
        return self._query_table(object_name).key(value, self.query_field(object_name, field_name))

    def find(self, lookup: Lookup) -> list[dict[str, Any]]:
        """The records satisfying a port Lookup, with its select fields and Id (and the recycle bin's, after the
        live ones, when it includes deleted records)."""
        records = self.query(lookup.object_name, lookup.where, lookup.select)
        if not lookup.include_deleted:
            return records
        with self._lock:
            table = self._query_table(lookup.object_name)
            names = select_names(table.describe, lookup.select)
            binned = [row for rid, row in self._recycled.items() if self._deleted.get(rid) == table.describe.name]
            return records + [project(row, names) for row in matching_among(table, lookup.where, binned)]

    def query(self, object_name: str, where: Sequence[Conjunction], select: Iterable[str]) -> list[dict[str, Any]]:
        """Records matching an OR of ANDs of `field IN values` (no conjunctions: every record), in creation order.

        Each record holds Id and the selected fields, named in describe case. Raises OrgError
        INVALID_TYPE (unknown object), INVALID_FIELD (unknown field, or a WHERE on a non-filterable
        one) or INVALID_QUERY_FILTER_OPERATOR (a malformed id compared to an id field).
        """
        with self._lock:
            table = self._query_table(object_name)
            names = select_names(table.describe, select)
            return [project(row, names) for row in matching_rows(table, where)]

    def select(self, object_name: str, predicate: Callable[[Mapping[str, Any]], bool],
               fields: Iterable[str] = ("Id",), include_deleted: bool = False) -> list[dict[str, Any]]:
        """Records for which `predicate` (given a read-only view of the whole record) is true.

        For the emulator's own SOQL evaluation: check WHERE fields first with query_field(...,
        filtering=True); the emulator compares values with its own equality.
        """
        with self._lock:
            table = self._query_table(object_name)
            names = select_names(table.describe, fields)
            rows = list(table.rows())
            if include_deleted:  # queryAll: the recycle bin too
                rows += [row for rid, row in self._recycled.items() if self._deleted.get(rid) == table.describe.name]
            return [project(row, names) for row in rows if predicate(MappingProxyType(row))]

    def merged_into(self, object_name: str, ids: Iterable[str]) -> dict[str, str]:
        """For ids merged away (in the recycle bin with a MasterRecordId): the record each was merged into."""
        with self._lock:
            found = {}
            for rid in ids:
                row = self._recycled.get(normalize_id(rid) or "") if isinstance(rid, str) else None
                if row is not None and row.get("MasterRecordId") and self._deleted.get(row["Id"]) == \
                        self._query_table(object_name).describe.name:
                    found[rid] = row["MasterRecordId"]
            return found

    def get(self, object_name: str, record_id: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """One record (all fields, or `fields` and Id). OrgError: NOT_FOUND (404) for an unknown object or a
        record that never existed, ENTITY_IS_DELETED (404) for a deleted one, MALFORMED_ID (400)."""
        with self._lock:
            table = self._tables[self.describe(object_name).name.lower()]
            try:
                rid = self._live_id(table, record_id)
            except Refusal as refusal:
                e = refusal.error
                raise OrgError(e.code, e.message, e.fields, 400 if e.code == "MALFORMED_ID" else 404) from None
            row = table.get(rid) or {}
            names = [f.name for f in table.describe.fields] if fields is None else select_names(table.describe, fields)
            return project(row, names)

    def ids_matching(self, object_name: str, field_name: str, value: Any) -> list[str]:
        """Ids of live records whose field equals `value` (SOQL equality), in creation order."""
        with self._lock:
            table = self._query_table(object_name)
            f = self.query_field(object_name, field_name)
            return [r["Id"] for r in table.in_order(table.ids_with(f, value))]

    def records(self, object_name: str) -> list[dict[str, Any]]:
        """A snapshot (copies) of every live record of the object, all fields, in creation order."""
        with self._lock:
            return [dict(row) for row in self._query_table(object_name).rows()]

    # Shared with writes ---------------------------------------------------------------------------
    def _query_table(self, object_name: str) -> Table:
        table = self._tables.get(object_name.lower())
        if table is None:
            raise unknown_object_in_query(object_name)
        return table

    def _write_table(self, object_name: str) -> Table:
        # A collections body naming an unknown type is refused whole; a REST URL would answer 404 NOT_FOUND.
        table = self._tables.get(object_name.lower())
        if table is None:
            raise OrgError("INVALID_TYPE", f"sObject type '{object_name}' is not supported.")
        return table

    def _live_id(self, table: Table, record_id: Any) -> str:
        obj = table.describe
        rid = normalize_id(record_id) if isinstance(record_id, str) else None
        if rid is None or rid[:3] != obj.key_prefix:
            raise malformed_id(id_label(obj), record_id)
        if rid not in table:
            if rid in self._deleted:
                raise Refusal("ENTITY_IS_DELETED", DELETED_MESSAGE)
            raise Refusal("NOT_FOUND", NOT_FOUND_MESSAGE)
        return rid
