"""Parent records by a stable key: a lookup set from the parent's external id or idLookup field.

Salesforce resolves the parent in the write itself (a relationship reference), at no extra call:
`"Account": {"External_Id__c": "A-1"}` in a REST body, an `Account.External_Id__c` column in Bulk; a
polymorphic lookup names the parent object (`"What": {"attributes": {"type": "Account"}, ...}` and the
`Account:What.External_Id__c` column).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import outcomes
from core.codes import Code
from core.describe import FieldDescribe, ObjectDescribe
from core.model import ResultError
from core.names import normalize_id

# Salesforce's answer when no parent has the key: INVALID_FIELD, "Foreign key external ID: <value> not found
# for field <key> in entity <object>"; the emulator answers several parents alike ("matched more than one
# record ... : [ids]"). No public recording shows Salesforce's answer for several parents; the recorded answer
# for an external id matching several records is DUPLICATE_EXTERNAL_ID "<field label>: more than one record
# found for external id field: [ids]", so that is read as about a parent too (tools/emulator/ORG_NEEDS_FACTS.md).
_FOREIGN_KEY = re.compile(r"Foreign key external ID: .* (not found|matched more than one record) for field "
                          r"(\w+) in entity (\w+)", re.DOTALL)
_SEVERAL_BY_KEY = re.compile(r"^\s*(.+?): more than one record found for external id field", re.IGNORECASE)
_IDS = re.compile(r"\[([A-Za-z0-9,\s]+)\]\s*$")


@dataclass(frozen=True)
class ParentRef:
    """The value of a lookup field given by its parent's key."""

    relationship: str  # the lookup's relationshipName: Account, What, Account__r
    object_name: str  # the parent object
    key_field: str  # the parent's external id or idLookup field
    value: Any
    polymorphic: bool = False

    def rest_entry(self) -> tuple[str, dict[str, Any]]:
        """The REST body entry that replaces the lookup field."""
        body: dict[str, Any] = {self.key_field: self.value}
        if self.polymorphic:
            body = {"attributes": {"type": self.object_name}, **body}
        return self.relationship, body

    def csv_column(self) -> str:
        """The Bulk API 2.0 column header."""
        prefix = f"{self.object_name}:" if self.polymorphic else ""
        return f"{prefix}{self.relationship}.{self.key_field}"


def rest_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with each ParentRef as its relationship reference."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, ParentRef):
            relationship, body = value.rest_entry()
            out[relationship] = body
        else:
            out[name] = value
    return out


def parent_object(lookup: FieldDescribe, named: str) -> str | None:
    """The parent object a key refers to: the one named (it must be a target of the lookup), else the only
    target; None when the lookup is polymorphic and names none, or names one it cannot point at."""
    if named:
        return next((t for t in lookup.reference_to if t.lower() == named.lower()), None)
    return lookup.reference_to[0] if len(lookup.reference_to) == 1 else None


def reference(lookup: FieldDescribe, named_object: str, key_field: str, value: Any) -> ParentRef:
    """The relationship reference for `lookup` = the parent whose `key_field` is `value`."""
    target = parent_object(lookup, named_object) or named_object
    return ParentRef(lookup.relationship_name or "", target, key_field, value,
                     polymorphic=len(lookup.reference_to) > 1)


def mapping_problem(describe: ObjectDescribe, field: str, named_object: str, key_field: str,
                    parent: ObjectDescribe | None = None) -> tuple[str, str] | None:
    """(code, message) when a parent-key mapping cannot work; `parent` (the parent's describe) when known."""
    lookup = describe.field(field)
    if lookup is None:
        return "UNKNOWN_FIELD", f"{describe.name} has no field {field}"
    if lookup.type != "reference" or not lookup.reference_to or not lookup.relationship_name:
        return ("PARENT_KEY_NOT_A_LOOKUP", f"{describe.name}.{lookup.name} is not a lookup with a relationship "
                "name, so it cannot be set from a parent's key")
    target = parent_object(lookup, named_object)
    if target is None:
        targets = ", ".join(lookup.reference_to)
        if not named_object:
            return ("PARENT_OBJECT_REQUIRED", f"{describe.name}.{lookup.name} can point at {targets}: name the "
                    "parent object")
        return "PARENT_OBJECT_INVALID", f"{describe.name}.{lookup.name} points at {targets}, not {named_object}"
    if not key_field:
        return "PARENT_KEY_REQUIRED", f"name the {target} field that identifies the parent"
    if parent is not None:
        key = parent.field(key_field)
        if key is None:
            return "UNKNOWN_FIELD", f"{parent.name} has no field {key_field}"
        if not key.id_lookup:
            return ("PARENT_KEY_NOT_ID_LOOKUP", f"{parent.name}.{key.name} is not an external id or idLookup field, "
                    "so Salesforce cannot find the parent by it")
    return None


def explain(error: ResultError, record: Mapping[str, Any], sources: Mapping[str, str]
            ) -> tuple[ResultError, tuple[str, ...]] | None:
    """Salesforce's answer about a relationship reference of `record`, as sfdest's: PARENT_NOT_FOUND (422) or
    PARENT_AMBIGUOUS (300, with the candidate ids Salesforce names), naming the mapping, the parent object
    and its key field. None when the error is about something else."""
    found = _FOREIGN_KEY.search(error.message)
    if found is None:
        return _several_by_key(error, record, sources)
    missing, key_field, object_name = found.group(1) == "not found", found.group(2), found.group(3)
    for name, value in record.items():
        if (isinstance(value, ParentRef) and value.key_field.lower() == key_field.lower()
                and value.object_name.lower() == object_name.lower()):
            if missing:
                return outcomes.error(Code.PARENT_NOT_FOUND, f"field mapping {sources.get(name, name)}: no "
                                   f"{value.object_name} has this event's {value.key_field}", (name,)), ()
            return _ambiguous(error, name, value, sources)
    return None


def _ambiguous(error: ResultError, name: str, ref: ParentRef, sources: Mapping[str, str]
               ) -> tuple[ResultError, tuple[str, ...]]:
    ids = _IDS.search(error.message)
    candidates = tuple(i for part in ids.group(1).split(",") if (i := normalize_id(part.strip()))) if ids else ()
    return outcomes.error(Code.PARENT_AMBIGUOUS, f"field mapping {sources.get(name, name)}: several {ref.object_name} "
                       f"records have this event's {ref.key_field}", (name,)), candidates


def _words(field_name_or_label: str) -> str:
    """External_Id__c and its default label External Id alike: lower case words."""
    text = re.sub(r"__c$", "", field_name_or_label.strip(), flags=re.IGNORECASE)
    return " ".join(text.replace("_", " ").lower().split())


def _several_by_key(error: ResultError, record: Mapping[str, Any], sources: Mapping[str, str]
                    ) -> tuple[ResultError, tuple[str, ...]] | None:
    """DUPLICATE_EXTERNAL_ID "<label>: more than one record found for external id field: [ids]" on a write
    carrying relationship references: about the reference whose key field has that name or label, or the only
    one. (An upsert's own key matching several records reaches core as MULTIPLE_MATCHES, never this.)"""
    found = _SEVERAL_BY_KEY.search(error.message) if error.code == Code.DUPLICATE_EXTERNAL_ID else None
    refs = [(name, value) for name, value in record.items() if isinstance(value, ParentRef)]
    if found is None or not refs:
        return None
    named = [(n, v) for n, v in refs if _words(v.key_field) == _words(found.group(1))]
    chosen = named[0] if len(named) == 1 else refs[0] if len(refs) == 1 and not named else None
    return _ambiguous(error, *chosen, sources) if chosen else None
