"""The org's record types: RecordType rows, and the picklist values each record type allows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from adapters.memory.describe_json import MASTER_RECORD_TYPE_ID
from adapters.memory.ids import IdFactory
from adapters.memory.record_rules import Refusal, fill_defaults
from adapters.memory.table import Table
from core.describe import ObjectDescribe
from core.names import normalize_id
from core.record_types import RecordTypeInfo


class RecordTypes:
    """Mixin for Org (its tables, lock, ids, clock and owner are set up there)."""

    _lock: threading.RLock
    _tables: dict[str, Table]
    _ids: IdFactory
    _clock: Callable[[], str]
    _record_type_picklists: dict[str, dict[str, tuple[str, ...]]]
    person_record_types: set[str]
    owner_id: str

    if TYPE_CHECKING:
        def describe(self, object_name: str) -> ObjectDescribe: ...  # OrgReads'

    def add_record_type(self, object_name: str, developer_name: str, *, active: bool = True,
                        picklists: Mapping[str, Sequence[str]] | None = None, person: bool = False) -> str:
        """Add a record type to an object that has a RecordTypeId field; `picklists` narrows the values a
        picklist allows under it (a picklist left out allows all its active values). Returns its id."""
        with self._lock:
            obj = self.describe(object_name)
            table = self._tables["recordtype"]
            rid = self._ids.new_id("012")
            record: dict[str, Any] = {f.name: None for f in table.describe.fields}
            record.update(Name=developer_name, DeveloperName=developer_name, SobjectType=obj.name, IsActive=active)
            fill_defaults(table.describe, record, record_id=rid, now=self._clock(), number=0, owner_id=self.owner_id)
            table.insert(rid, record)
            self._record_type_picklists[rid] = {getattr(obj.field(k), "name", k): tuple(v)
                                                for k, v in (picklists or {}).items()}
            if person:
                self.person_record_types.add(rid)
            return rid

    def _is_person(self, raw_id: Any) -> bool:
        return isinstance(raw_id, str) and normalize_id(raw_id) in self.person_record_types

    def record_types(self, object_name: str) -> tuple[RecordTypeInfo, ...]:
        """The object's record types, the master first (as describe layouts lists them)."""
        with self._lock:
            obj = self.describe(object_name)
            rows = [r for r in self._tables["recordtype"].rows() if r.get("SobjectType") == obj.name]
            master = RecordTypeInfo(MASTER_RECORD_TYPE_ID, "Master", True, True, self._allowed(obj, ""))
            return (master, *(RecordTypeInfo(r["Id"], r["DeveloperName"], bool(r["IsActive"]), False,
                                             self._allowed(obj, r["Id"])) for r in rows))

    def _allowed(self, obj: ObjectDescribe, record_type_id: str) -> dict[str, tuple[str, ...]]:
        narrowed = self._record_type_picklists.get(record_type_id, {})
        return {f.name: narrowed.get(f.name, tuple(p.value for p in f.picklist_values if p.active))
                for f in obj.fields if f.type in ("picklist", "multipicklist")}

    def _picklists_for(self, obj: ObjectDescribe, raw_id: Any) -> dict[str, tuple[str, ...]] | None:
        """The values the record type `raw_id` allows; Refusal unless it is an active record type of `obj`."""
        if raw_id in (None, ""):
            return None
        rid = normalize_id(raw_id) if isinstance(raw_id, str) else None
        row = self._tables["recordtype"].get(rid) if rid else None
        if row is None or row.get("SobjectType") != obj.name or not row.get("IsActive"):
            raise Refusal("INVALID_CROSS_REFERENCE_KEY", f"Record Type ID: this ID value isn't valid for the user: "
                          f"{raw_id}", ("RecordTypeId",))
        return self._record_type_picklists.get(rid or "", {})
