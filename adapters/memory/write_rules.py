"""Duplicate rules and assignment rules, driven per request by Salesforce's two headers.

`Sforce-Duplicate-Rule-Header: allowSave=true, includeRecordDetails=false, runAsCurrentUser=false` and
`Sforce-Auto-Assign: TRUE | FALSE | <rule id>` (absent: TRUE, Salesforce's default). The emulator passes each
request's headers through `Org.request_headers`; the memory store passes an action's write options the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from adapters.memory.ids import IdFactory
from adapters.memory.record_rules import Refusal
from adapters.memory.table import Table
from core.describe import ObjectDescribe

DUPLICATE_MESSAGE = "You're creating a duplicate record. We recommend you use an existing record instead."
ASSIGNABLE = frozenset({"Lead", "Case"})


class DuplicatesDetected(Refusal):
    """A duplicate rule blocked the save; `duplicates` are the records it matched."""

    def __init__(self, obj: ObjectDescribe, rule: str, duplicates: tuple[str, ...]):
        super().__init__("DUPLICATES_DETECTED", DUPLICATE_MESSAGE)
        self.object_name, self.rule, self.duplicates = obj.name, rule, duplicates

    def duplicate_result(self, api_version: str = "66.0") -> dict[str, Any]:
        """The `duplicateResult` Salesforce adds to the error."""
        records = [{"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
                    "record": {"attributes": {"type": self.object_name, "url": f"/services/data/v{api_version}/"
                                              f"sobjects/{self.object_name}/{rid}"}, "Id": rid}}
                   for rid in self.duplicates]
        return {"allowSave": False, "duplicateRule": self.rule, "duplicateRuleEntityType": self.object_name,
                "errorMessage": DUPLICATE_MESSAGE,
                "matchResults": [{"entityType": self.object_name, "errors": [], "matchEngine": "ExactMatchEngine",
                                  "matchRecords": records, "rule": f"{self.rule}_Match", "size": len(records),
                                  "success": True}]}


def _flags(header: str | None) -> dict[str, bool]:
    flags = {}
    for part in (header or "").split(","):
        name, _, value = part.partition("=")
        flags[name.strip().lower()] = value.strip().lower() == "true"
    return flags


class WriteRules:
    """Mixin for Org: its duplicate rules and assignment rules (set up in Org.__init__)."""

    _ids: IdFactory
    _request: threading.local
    duplicate_rules: dict[str, list[tuple[str, str]]]  # object (lower) -> [(rule name, field)]
    assignment_rules: dict[str, str]  # rule id -> owner id (a queue)
    default_assignment_rule: str

    if TYPE_CHECKING:
        def describe(self, object_name: str) -> ObjectDescribe: ...  # OrgReads'

    def add_duplicate_rule(self, object_name: str, field_name: str) -> str:
        """An active duplicate rule (alert and block) matching records with the same `field_name` value."""
        obj = self.describe(object_name)
        f = obj.field(field_name)
        if f is None:
            raise ValueError(f"{obj.name} has no field {field_name}")
        name = f"{obj.name}_{f.name}_Duplicate_Rule"
        self.duplicate_rules.setdefault(obj.name.lower(), []).append((name, f.name))
        return name

    def add_assignment_rule(self, default: bool = True, rule_id: str = "") -> tuple[str, str]:
        """A Lead and Case assignment rule (`rule_id`, else a new id) routing records to a new queue:
        (rule id, queue id)."""
        rule_id, queue_id = rule_id or self._ids.new_id("01Q"), self._ids.new_id("00G")
        self.assignment_rules[rule_id] = queue_id
        if default:
            self.default_assignment_rule = rule_id
        return rule_id, queue_id

    @contextmanager
    def request_headers(self, duplicate_rule_header: str | None = None, auto_assign: str | None = None
                        ) -> Iterator[None]:
        """Apply the writes inside the block as a request carrying these headers."""
        self._request.duplicate, self._request.assign = duplicate_rule_header, auto_assign
        try:
            yield
        finally:
            self._request.duplicate = self._request.assign = None

    def _check_duplicates(self, table: Table, record: dict[str, Any], own_id: str) -> None:
        if _flags(getattr(self._request, "duplicate", None)).get("allowsave"):
            return
        obj = table.describe
        for rule, name in self.duplicate_rules.get(obj.name.lower(), ()):
            value, f = record.get(name), obj.field(name)
            if f is None or value in (None, ""):
                continue
            others = tuple(r["Id"] for r in table.in_order(table.ids_with(f, value)) if r["Id"] != own_id)
            if others:
                raise DuplicatesDetected(obj, rule, others)

    def _assign(self, obj: ObjectDescribe, record: dict[str, Any]) -> None:
        if obj.name not in ASSIGNABLE:
            return
        header = getattr(self._request, "assign", None)
        choice = (header or "TRUE").strip()
        rule = self.default_assignment_rule if choice.upper() == "TRUE" else "" if choice.upper() == "FALSE" \
            else next((r for r in self.assignment_rules if r[:15] == choice[:15]), None)
        if rule is None:
            raise Refusal("INVALID_CROSS_REFERENCE_KEY", f"invalid assignment rule id: {choice[:40]}")
        if rule in self.assignment_rules:
            record["OwnerId"] = self.assignment_rules[rule]
