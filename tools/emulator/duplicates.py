"""Duplicate rules: a create matching an existing record on the rule's fields is refused with
DUPLICATES_DETECTED, unless the rule allows saving and the request sends Sforce-Duplicate-Rule-Header
allowSave=true. A single-record answer carries the matches in `duplicateResut` (Salesforce's own spelling)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.memory.results import SaveResult, failed

if TYPE_CHECKING:
    from tools.emulator.routes import Call
    from tools.emulator.server import Emulator

ALERT = "You're creating a duplicate record. We recommend you use an existing record instead."


@dataclass(frozen=True)
class DuplicateRule:
    object_name: str
    fields: tuple[str, ...]  # every one must match (case- and surrounding-space-insensitive)
    name: str = "Standard_Rule"
    match_rule: str = "Standard_Match_Rule_v1_1"
    message: str = ALERT
    allow_save: bool = False


@dataclass(frozen=True)
class Duplicates:
    rule: DuplicateRule
    ids: tuple[str, ...]


class DuplicateRules:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[DuplicateRule] = []

    def add(self, rule: DuplicateRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def find(self, emu: Emulator, object_name: str, body: Mapping[str, Any], allow_save: bool) -> Duplicates | None:
        """The first rule the new record breaks, with the records it duplicates (None when it may be saved)."""
        with self._lock:
            rules = [r for r in self._rules if r.object_name.lower() == object_name.lower()]
        given = {k.lower(): v for k, v in body.items()}
        for rule in rules:
            if allow_save and rule.allow_save:
                continue
            wanted = [_norm(given.get(f.lower())) for f in rule.fields]
            if any(w == "" for w in wanted):
                continue
            ids = tuple(row["Id"] for row in emu.org.records(object_name)
                        if [_norm(row.get(f)) for f in rule.fields] == wanted)
            if ids:
                return Duplicates(rule, ids)
        return None


def _norm(value: Any) -> str:
    return "" if value is None else str(value).strip().lower()


def allow_save(call: Call) -> bool:
    return "allowsave=true" in call.req.header("sforce-duplicate-rule-header").replace(" ", "").lower()


def refusal(found: Duplicates) -> SaveResult:
    """The per-record failure of a collection create."""
    return failed("DUPLICATES_DETECTED", found.rule.message)


def single_record_body(call: Call, object_name: str, found: Duplicates) -> list[dict[str, Any]]:
    """The 400 body of a single-record create, naming the records it duplicates."""
    rule = found.rule
    records = [{"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
                "record": {"attributes": {"type": object_name, "url": f"{call.base}/sobjects/{object_name}/{rid}"},
                           "Id": rid}} for rid in found.ids]
    result = {"allowSave": rule.allow_save, "duplicateRule": rule.name, "duplicateRuleEntityType": object_name,
              "errorMessage": rule.message,
              "matchResults": [{"entityType": object_name, "errors": [], "matchEngine": "FuzzyMatchEngine",
                                "matchRecords": records, "rule": rule.match_rule, "size": len(records),
                                "success": True}]}
    return [{"duplicateResut": result, "errorCode": "DUPLICATES_DETECTED", "message": rule.message}]
