"""Relationship references in a write body (`"Account": {"External_Id__c": "A-1"}`), resolved as Salesforce does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adapters.memory.record_rules import IGNORED_KEYS, Refusal
from adapters.memory.table import Table
from core.describe import FieldDescribe, ObjectDescribe


def _lookup(obj: ObjectDescribe, relationship: str) -> FieldDescribe | None:
    wanted = relationship.lower()
    return next((f for f in obj.fields if f.relationship_name and f.relationship_name.lower() == wanted), None)


def resolve_references(obj: ObjectDescribe, body: Mapping[str, Any], table_of: Callable[[str], Table | None]
                       ) -> dict[str, Any]:
    """The body with each relationship reference replaced by the parent's id in its lookup field.

    No parent with the key: INVALID_FIELD "Foreign key external ID: <value> not found for field <key> in entity
    <object>" (Salesforce's answer). Several: DUPLICATE_EXTERNAL_ID naming their ids (the emulator's choice).
    """
    out: dict[str, Any] = {}
    for name, value in body.items():
        if name in IGNORED_KEYS or not isinstance(value, Mapping):
            out[name] = value
            continue
        lookup = _lookup(obj, name)
        if lookup is None:
            raise Refusal("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
        attributes = value.get("attributes")
        named = attributes.get("type") if isinstance(attributes, Mapping) else None
        if named is None and len(lookup.reference_to) > 1:
            raise Refusal("INVALID_FIELD", f"The polymorphic relationship {name} needs attributes.type to name the "
                          "parent object", (lookup.name,))
        target = next((t for t in lookup.reference_to if t.lower() == str(named or lookup.reference_to[0]).lower()),
                      None)
        table = table_of(target) if target else None
        keys = [(k, v) for k, v in value.items() if k != "attributes"]
        if table is None or len(keys) != 1:
            raise Refusal("INVALID_FIELD", f"Invalid relationship reference {name} for {obj.name}.{lookup.name}",
                          (lookup.name,))
        key_name, key_value = keys[0]
        key = table.describe.field(key_name)
        parent = table.describe.name
        if key is None or not key.id_lookup:
            raise Refusal("INVALID_FIELD", f"Field name provided, {key_name} is not an External ID or indexed "
                          f"field for {parent}", (lookup.name,))
        if key_value is None or key_value == "":
            out[lookup.name] = None
            continue
        matches = table.in_order(table.ids_with(key, key_value))
        if not matches:
            raise Refusal("INVALID_FIELD", f"Foreign key external ID: {key_value} not found for field {key.name} "
                          f"in entity {parent}")
        if len(matches) > 1:
            ids = ", ".join(r["Id"] for r in matches)
            raise Refusal("DUPLICATE_EXTERNAL_ID", f"Foreign key external ID: {key_value} matched more than one "
                          f"record for field {key.name} in entity {parent}: [{ids}]", (lookup.name,))
        out[lookup.name] = matches[0]["Id"]
    return out
