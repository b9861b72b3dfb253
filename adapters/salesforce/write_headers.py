"""The duplicates a DUPLICATES_DETECTED answer names (its duplicateResult)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.names import normalize_id

# Where an error carries the duplicate rule's result: REST single-record answers of real orgs spell the key
# `duplicateResut` (recorded, see tools/emulator/ORG_NEEDS_FACTS.md); the documentation and SOAP-based
# clients spell it `duplicateResult`. Collections elements, as documented, carry neither.
_RESULT_KEYS = ("duplicateResult", "duplicateResut")


def duplicate_ids(errors: Iterable[Any]) -> tuple[str, ...]:
    """The record ids in the duplicate result of each error (matchResults[].matchRecords[].record.Id); none
    when the answer names no duplicate."""
    ids: list[str] = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        for key in _RESULT_KEYS:
            ids.extend(_match_ids(error.get(key)))
    return tuple(dict.fromkeys(ids))


def _match_ids(result: Any) -> list[str]:
    ids: list[str] = []
    matches = result.get("matchResults") if isinstance(result, dict) else None
    for match in matches if isinstance(matches, list) else ():
        records = match.get("matchRecords") if isinstance(match, dict) else None
        for record in records if isinstance(records, list) else ():
            found = record.get("record") if isinstance(record, dict) else None
            rid = found.get("Id") if isinstance(found, dict) else None
            canonical = normalize_id(rid) if isinstance(rid, str) else None
            if canonical:
                ids.append(canonical)
    return ids
