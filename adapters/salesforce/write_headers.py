"""The duplicates a DUPLICATES_DETECTED answer names (its duplicateResult)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.names import normalize_id


def duplicate_ids(errors: Iterable[Any]) -> tuple[str, ...]:
    """The record ids in the duplicateResult of each error (matchResults[].matchRecords[].record.Id)."""
    ids: list[str] = []
    for error in errors:
        result = error.get("duplicateResult") if isinstance(error, dict) else None
        for match in (result or {}).get("matchResults") or ():
            for record in (match or {}).get("matchRecords") or ():
                rid = ((record or {}).get("record") or {}).get("Id")
                canonical = normalize_id(rid) if isinstance(rid, str) else None
                if canonical:
                    ids.append(canonical)
    return tuple(dict.fromkeys(ids))
