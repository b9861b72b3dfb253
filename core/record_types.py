"""Record types by DeveloperName: ids differ from org to org, names do not.

Read from one describe-layouts answer per org and object (`GET /sobjects/<Object>/describe/layouts/`), whose
`recordTypeMappings` give each record type's id, developer name, whether it is active, and the values each
picklist allows under it. Adapters cache the answer as they cache describe, and count it with describe calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordTypeInfo:
    id: str
    developer_name: str
    active: bool = True
    master: bool = False
    # Values each picklist allows under this record type (active ones), by field API name.
    picklists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def record_types_from_layouts(body: Mapping[str, Any]) -> tuple[RecordTypeInfo, ...]:
    """The record types in a DescribeLayoutResult body (its recordTypeMappings)."""
    out = []
    for m in body.get("recordTypeMappings") or ():
        if not isinstance(m, Mapping) or not m.get("recordTypeId"):
            continue
        picklists = {
            str(p["picklistName"]): tuple(str(v.get("value")) for v in p.get("picklistValues") or ()
                                          if isinstance(v, Mapping) and v.get("active", True))
            for p in m.get("picklistsForRecordType") or () if isinstance(p, Mapping) and p.get("picklistName")}
        out.append(RecordTypeInfo(str(m["recordTypeId"]), str(m.get("developerName") or m.get("name") or ""),
                                  bool(m.get("active", True)), bool(m.get("master", False)), picklists))
    return tuple(out)


def find_record_type(infos: tuple[RecordTypeInfo, ...], developer_name: str) -> RecordTypeInfo | None:
    """The record type called `developer_name` (letter case ignored, as Salesforce's unique names do)."""
    wanted = developer_name.lower()
    return next((i for i in infos if i.developer_name.lower() == wanted and not i.master), None)
