"""Orgs beyond the standard catalog: the features an admin may have turned on, each off by default.

`catalog_for(OrgOptions(...))` gives the catalog for `Org(...)`, `MemoryBackend(catalog=...)` and, through an
Org, the emulator (`Emulator(org=Org(catalog_for(...)))`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from adapters.memory.catalog import STANDARD_CATALOG
from core.describe import FieldDescribe, ObjectDescribe


@dataclass(frozen=True)
class OrgOptions:
    # Objects given a custom External_Id__c field (text, external id, not unique), e.g. ("Account",).
    external_ids: tuple[str, ...] = ()


def _external_id() -> FieldDescribe:
    return FieldDescribe("External_Id__c", "string", label="External Id", length=255, external_id=True,
                         id_lookup=True)


def _with_fields(obj: ObjectDescribe, *fields: FieldDescribe) -> ObjectDescribe:
    return replace(obj, fields=(*obj.fields, *(f for f in fields if obj.field(f.name) is None)))


def catalog_for(options: OrgOptions) -> dict[str, ObjectDescribe]:
    catalog = dict(STANDARD_CATALOG)
    for name in options.external_ids:
        catalog[name] = _with_fields(catalog[name], _external_id())
    return catalog
