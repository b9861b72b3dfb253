"""One Salesforce org held in memory: describe, query and per-record writes with Salesforce's rules."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.memory.catalog import STANDARD_CATALOG
from adapters.memory.faults import Faults
from adapters.memory.field_facts import OTHER_KEY_PREFIXES
from adapters.memory.ids import POD, IdFactory
from adapters.memory.org_reads import OrgReads
from adapters.memory.person_accounts import person_values
from adapters.memory.record_rules import (
    Refusal,
    check_required_on_create,
    check_required_on_update,
    converted_values,
    derive,
    fill_defaults,
    malformed_id,
    saved_form,
    upsert_match_key,
    writable_fields,
)
from adapters.memory.record_type_registry import RecordTypes
from adapters.memory.relationships import resolve_references
from adapters.memory.results import (
    DELETED_MESSAGE,
    OrgError,
    SaveResult,
    failed,
    no_such_external_id_field,
)
from adapters.memory.table import KeyFunction, Table
from adapters.memory.write_rules import DuplicatesDetected, WriteRules
from core.coercion import match_key
from core.describe import FieldDescribe, ObjectDescribe
from core.names import normalize_id, to_18
from core.ports import RecordRefusal


def salesforce_now() -> str:
    """The current time as Salesforce writes datetimes: 2024-05-20T20:49:32.000+0000 (whole seconds, as stored)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class Org(RecordTypes, WriteRules, OrgReads):
    """One org's records and rules. Every method is thread-safe (one lock per org).

    Object and field names are accepted in any letter case and answered in the describe's case.
    Ids are accepted in 15- or 18-character form and answered in 18. Matching everywhere (queries,
    upsert keys, unique fields) uses `key`: `core.coercion.match_key` unless the caller brings its
    own equality (the emulator does, see use_key), so strings compare case-insensitively as SOQL `=` does.

    Whole-request failures raise OrgError (with the HTTP status Salesforce uses); per-record
    write failures come back as a SaveResult with success=False and never raise.

    `ids` hands out record ids (pass IdFactory(start=0) for repeatable ids); `clock` gives the
    current time as a Salesforce datetime string, for CreatedDate and LastModifiedDate. With
    `max_records`, a create past that many live records fails with STORAGE_LIMIT_EXCEEDED, as a full
    org's does, and the recycle bin keeps only that many ids.
    """

    def __init__(self, catalog: Mapping[str, ObjectDescribe] | None = None, *, ids: IdFactory | None = None,
                 clock: Callable[[], str] = salesforce_now, max_records: int | None = None,
                 key: KeyFunction = match_key, upsert_key: KeyFunction = upsert_match_key):
        self._max_records = max_records
        self._records = 0
        self._lock = threading.RLock()
        self._key, self._upsert_key = key, upsert_key
        self._ids = ids or IdFactory()
        self._clock = clock
        self._tables = {o.name.lower(): Table(o, key) for o in (catalog or STANDARD_CATALOG).values()}
        self._deleted: dict[str, str] = {}  # id -> object name: the recycle bin
        self._record_type_picklists: dict[str, dict[str, tuple[str, ...]]] = {}
        self.person_record_types: set[str] = set()
        self._request = threading.local()
        self.duplicate_rules: dict[str, list[tuple[str, str]]] = {}
        self.assignment_rules: dict[str, str] = {}
        self.default_assignment_rule = ""
        self._recycled: dict[str, dict[str, Any]] = {}  # id -> the record as deleted (queryAll sees it)
        self._numbers = iter(range(1001, 10**8))  # auto-numbers (CaseNumber)
        self.owner_id = self._ids.new_id("005")  # the API user every record defaults to
        self._add_api_user()
        self.faults = Faults()
        self.schema_version = 0  # bumped when objects change, so describe caches know to refresh
        # The API user's "Bulk API Hard Delete" system permission (off by default, as in Salesforce).
        self.hard_delete_allowed = False

    @property
    def record_count(self) -> int:
        """Live records created through writes (what max_records caps)."""
        return self._records

    # Writes --------------------------------------------------------------------------------------
    def create(self, object_name: str, fields: Mapping[str, Any]) -> SaveResult:
        """Insert one record; success carries the new 18-character id (and created=True)."""
        with self._lock:
            table = self._write_table(object_name)
            try:
                self._check_fault("", fields)
                return SaveResult(True, self._insert(table, fields), created=True)
            except Refusal as refusal:
                return _refused(refusal)

    def update(self, object_name: str, record_id: str, fields: Mapping[str, Any]) -> SaveResult:
        """Change the given fields of one record; None (or "") clears a field unless it is required."""
        with self._lock:
            table = self._write_table(object_name)
            try:
                rid = self._live_id(table, record_id)
            except Refusal as refusal:
                return SaveResult(False, record_id, errors=(refusal.error,))
            try:
                self._check_fault(rid, fields)
                self._change(table, rid, fields)
                return SaveResult(True, rid)
            except Refusal as refusal:
                return _refused(refusal, rid)

    def upsert(self, object_name: str, key_field: str, key_value: Any, fields: Mapping[str, Any]) -> SaveResult:
        """Create or update by an idLookup field (an external id, Email, Id...).

        No match (or an empty key value): create, created=True. One match: update, created=False.
        Several: nothing written; DUPLICATE_EXTERNAL_ID with matched_ids (REST answers 300).
        OrgError NOT_FOUND (404) when the key field is unknown or not an idLookup field.
        """
        with self._lock:
            table = self._write_table(object_name)
            key = self._key_field(table, key_field)
            return self._upsert(table, key, key_value, fields)

    def upsert_many(self, object_name: str, key_field: str, records: Sequence[Mapping[str, Any]]) -> list[SaveResult]:
        """One sObject Collections upsert: each record carries its key value among its fields.

        As in Salesforce, records of one request that share a key value all fail with
        DUPLICATE_EXTERNAL_ID; the others are upserted one by one, in order.
        """
        with self._lock:
            table = self._write_table(object_name)
            key = self._key_field(table, key_field)
            values = [_value_of(r, key.name) for r in records]
            saved = [saved_form(v, key) for v in values]
            keys = [None if v in (None, "") else self._upsert_key(v, key) for v in saved]
            counts: dict[Any, int] = {}
            for k in keys:
                if k is not None:
                    counts[k] = counts.get(k, 0) + 1
            results = []
            for record, value, k in zip(records, values, keys, strict=True):
                if counts.get(k, 0) > 1:
                    results.append(failed("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}",
                                          (key.name,)))
                else:
                    results.append(self._upsert(table, key, value, record))
            return results

    def _deletable(self, object_name: str, record_id: str) -> tuple[Any, str] | SaveResult:
        """The table and live id of a record a delete may remove, or the refusal to answer (lock held)."""
        table = self._write_table(object_name)
        try:
            rid = self._live_id(table, record_id)
            self._check_fault(rid, {})
        except Refusal as refusal:
            return SaveResult(False, record_id, errors=(refusal.error,))
        return table, rid

    def delete(self, object_name: str, record_id: str) -> SaveResult:
        """Delete one record (to the recycle bin: later writes to it answer ENTITY_IS_DELETED)."""
        with self._lock:
            found = self._deletable(object_name, record_id)
            if isinstance(found, SaveResult):
                return found
            table, rid = found
            row = table.remove(rid)
            self._records -= 1
            self._deleted[rid] = table.describe.name
            self._recycled[rid] = {**row, "IsDeleted": True}
            if self._max_records is not None and len(self._deleted) > self._max_records:
                oldest = next(iter(self._deleted))  # the oldest id leaves the recycle bin
                del self._deleted[oldest]
                self._recycled.pop(oldest, None)
            return SaveResult(True, rid)

    def hard_delete(self, object_name: str, record_id: str) -> SaveResult:
        """Delete one record past the recycle bin (Bulk API hardDelete): queryAll no longer finds it, and later
        writes to it answer NOT_FOUND. The caller checks `hard_delete_allowed` (the job is refused whole)."""
        with self._lock:
            found = self._deletable(object_name, record_id)
            if isinstance(found, SaveResult):
                return found
            table, rid = found
            table.remove(rid)
            self._records -= 1
            return SaveResult(True, rid)

    def merge(self, object_name: str, master_id: str, merged_ids: Sequence[str]) -> None:
        """Merge records into a master as Salesforce's merge does: the others go to the recycle bin with
        MasterRecordId naming the master (queryAll reads it); writes to them answer ENTITY_IS_DELETED."""
        with self._lock:
            table = self._write_table(object_name)
            master = self._live_id(table, master_id)
            for merged in merged_ids:
                result = self.delete(object_name, merged)
                if not result.success:
                    raise OrgError(result.errors[0].code, result.errors[0].message)
                self._recycled[result.id]["MasterRecordId"] = master

    def convert_lead(self, lead_id: str, contact_id: str | None = None) -> str:
        """Convert a Lead as Lead Convert does: into `contact_id`, or a new Account and Contact made from it.

        The Lead stays, with IsConverted, ConvertedDate, ConvertedContactId and ConvertedAccountId set;
        from then on an update of it answers CANNOT_UPDATE_CONVERTED_LEAD. Returns the Contact's id.
        """
        with self._lock:
            leads = self._write_table("Lead")
            lead = leads.get(self._live_id(leads, lead_id)) or {}
            if lead.get("IsConverted"):
                raise OrgError("CANNOT_UPDATE_CONVERTED_LEAD", CONVERTED_MESSAGE)
            if contact_id is None:
                account = self.seed("Account", {"Name": lead.get("Company") or lead.get("LastName")})
                contact_id = self.seed("Contact", {"AccountId": account, **{
                    name: lead.get(name) for name in ("FirstName", "LastName", "Email", "Phone", "Title")}})
            contact = self._write_table("Contact").get(normalize_id(contact_id) or "") or {}
            now = self._clock()
            leads.replace(lead["Id"], {**lead, "IsConverted": True, "ConvertedDate": now[:10],
                                       "ConvertedContactId": contact.get("Id"),
                                       "ConvertedAccountId": contact.get("AccountId"),
                                       "Status": "Closed - Converted", "LastModifiedDate": now, "SystemModstamp": now})
            return str(contact.get("Id"))

    def seed(self, object_name: str, fields: Mapping[str, Any]) -> str:
        """Create a record for a test under the same rules as create; OrgError when it is refused."""
        result = self.create(object_name, fields)
        if not result.success:
            e = result.errors[0]
            raise OrgError(e.code, e.message, e.fields)
        return result.id

    def use_key(self, key: KeyFunction, upsert_key: KeyFunction) -> None:
        """Decide equality with `key` (queries, unique fields) and `upsert_key` (which records an upsert key
        value matches: never more than `key` finds) from now on, re-indexing every table."""
        with self._lock:
            self._key, self._upsert_key = key, upsert_key
            for table in self._tables.values():
                table.rekey(key)

    # Internals -----------------------------------------------------------------------------------
    def _add_api_user(self) -> None:
        """The API user is a User record, so lookups to it (OwnerId...) point at a live record."""
        table = self._tables.get("user")
        if table is None:
            return
        obj = table.describe
        record = {f.name: _API_USER.get(f.name) for f in obj.fields}
        fill_defaults(obj, record, record_id=self.owner_id, now=self._clock(), number=0, owner_id=self.owner_id)
        derive(obj, record)
        table.insert(self.owner_id, record)

    def _key_field(self, table: Table, name: str) -> FieldDescribe:
        f = table.describe.field(name)
        if f is None or not f.id_lookup:
            raise no_such_external_id_field(name)
        return f

    def _check_fault(self, record_id: str, fields: Mapping[str, Any]) -> None:
        error = self.faults.take(record_id, fields)
        if error is not None:
            raise Refusal(error.code, error.message, error.fields)

    def _insert(self, table: Table, body: Mapping[str, Any]) -> str:
        obj = table.describe
        if self._max_records is not None and self._records >= self._max_records:
            raise Refusal("STORAGE_LIMIT_EXCEEDED", f"storage limit exceeded: this in-memory org keeps at most "
                          f"{self._max_records:,} records; delete some, or raise the memory backend's limit")
        body = resolve_references(obj, body, lambda name: self._tables.get(name.lower()))
        picklists = self._picklists_for(obj, _value_of(body, "RecordTypeId"))
        values = converted_values(writable_fields(obj, body, creating=True), picklists)
        if self._is_person(_value_of(body, "RecordTypeId")):
            person_values(body, values)
        check_required_on_create(obj, values)
        self._check_references(obj, values)
        _check_unique(table, values, "")
        rid = self._ids.new_id(obj.key_prefix)
        record = {f.name: values.get(f.name) for f in obj.fields}
        fill_defaults(obj, record, record_id=rid, now=self._clock(), number=next(self._numbers),
                      owner_id=self.owner_id)
        derive(obj, record)
        self._check_duplicates(table, record, "")
        self._assign(obj, record)
        table.insert(rid, record)
        self._records += 1
        return rid

    def _change(self, table: Table, rid: str, body: Mapping[str, Any]) -> None:
        obj = table.describe
        body = resolve_references(obj, body, lambda name: self._tables.get(name.lower()))
        picklists = self._picklists_for(obj, _value_of(body, "RecordTypeId") or (table.get(rid) or {}).get(
            "RecordTypeId"))
        changes = converted_values(writable_fields(obj, body, creating=False), picklists)
        if (table.get(rid) or {}).get("IsPersonAccount"):
            person_values(body, changes, table.get(rid))
        _check_not_converted(table, rid)
        check_required_on_update(obj, changes)
        self._check_references(obj, changes)
        _check_unique(table, changes, rid)
        record = {**(table.get(rid) or {}), **changes}
        now = self._clock()
        record.update({name: now for name in ("LastModifiedDate", "SystemModstamp") if obj.field(name) is not None})
        derive(obj, record)
        self._check_duplicates(table, record, rid)
        self._assign(obj, record)
        table.replace(rid, record)

    def _upsert(self, table: Table, key: FieldDescribe, value: Any, body: Mapping[str, Any]) -> SaveResult:
        fields = {k: v for k, v in body.items() if k.lower() != key.name.lower()}
        value = saved_form(value, key)
        if value is None or value == "":
            return self.create(table.describe.name, fields)
        if key.name == "Id":
            return self.update(table.describe.name, str(value), fields)
        wanted = self._upsert_key(value, key)  # never matches more than SOQL equality: narrow its candidates
        matches = [r for r in table.in_order(table.ids_with(key, value))
                   if self._upsert_key(r.get(key.name), key) == wanted]
        if len(matches) > 1:
            ids = tuple(r["Id"] for r in matches)
            error = RecordRefusal("DUPLICATE_EXTERNAL_ID", f"{key.label or key.name}: more than one record found "
                                  f"for external id field: [{', '.join(ids)}]", (key.name,))
            return SaveResult(False, errors=(error,), matched_ids=ids)
        # The key value goes into the record where the operation may write it (CaseNumber, say, it may not).
        if not matches:
            return self.create(table.describe.name, {**fields, key.name: value} if key.createable else fields)
        return self.update(table.describe.name, matches[0]["Id"],
                           {**fields, key.name: value} if key.updateable else fields)

    def _check_references(self, obj: ObjectDescribe, values: Mapping[str, Any]) -> None:
        """Lookups must hold an id of an object they may point at (referenceTo), and of a live record when
        the org holds that object."""
        for name, rid in values.items():
            f = obj.field(name)
            if rid is None or f is None or not f.reference_to:
                continue
            targets = [self._tables.get(t.lower()) or t for t in f.reference_to]
            prefixes = {t.describe.key_prefix if isinstance(t, Table) else OTHER_KEY_PREFIXES.get(t) for t in targets}
            if None not in prefixes and rid[:3] not in prefixes:
                raise malformed_id(f.label or name, rid, (f.name,))
            tables = [t for t in targets if isinstance(t, Table) and t.describe.key_prefix == rid[:3]]
            if tables and not any(rid in t for t in tables):
                if rid in self._deleted:
                    raise Refusal("ENTITY_IS_DELETED", DELETED_MESSAGE, (f.name,))
                raise Refusal("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (f.name,))


# The org's API user (a System Administrator-like profile; the profile itself is not in the catalog).
_API_USER = {
    "Username": "api.user@sfdest.example", "FirstName": "API", "LastName": "User", "Alias": "apiuser",
    "CommunityNickname": "api.user", "Email": "api.user@sfdest.example", "IsActive": True,
    "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8",
    "LanguageLocaleKey": "en_US", "ProfileId": to_18("00e" + POD + "0000000001"), "UserType": "Standard",
}


def _refused(refusal: Refusal, record_id: str = "") -> SaveResult:
    duplicates = refusal.duplicates if isinstance(refusal, DuplicatesDetected) else ()
    return SaveResult(False, record_id, errors=(refusal.error,), duplicates=duplicates,
                      duplicate_result=refusal.duplicate_result() if isinstance(refusal, DuplicatesDetected) else None)


# Salesforce's answer to a write to a converted Lead (reported in grouparoo/grouparoo#1043, see
# shared/reference/cdp-compatibility.md); the lead stays readable.
CONVERTED_MESSAGE = "cannot reference converted lead"


def _check_not_converted(table: Table, rid: str) -> None:
    if table.describe.name == "Lead" and (table.get(rid) or {}).get("IsConverted"):
        raise Refusal("CANNOT_UPDATE_CONVERTED_LEAD", CONVERTED_MESSAGE)


def _check_unique(table: Table, values: dict[str, Any], own_id: str) -> None:
    duplicate = table.duplicate_of(values, own_id)
    if duplicate is not None:
        name, other = duplicate
        raise Refusal("DUPLICATE_VALUE", f"duplicate value found: {name} duplicates value on record with id: {other}",
                      (name,))


def _value_of(record: Mapping[str, Any], name: str) -> Any:
    wanted = name.lower()
    return next((v for k, v in record.items() if k.lower() == wanted), None)
