"""Failures a test plants in an org: the next writes of a record, or of records carrying a value, fail."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.names import normalize_id
from core.ports import RecordRefusal


@dataclass
class _Fault:
    error: RecordRefusal
    record_id: str
    value: str | None
    remaining: int | None  # None: every time


class Faults:
    """Per-record failure injection, consulted by every write before Salesforce's own rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []

    def add(self, error: RecordRefusal, *, record_id: str = "", value: Any = None, times: int | None = 1) -> None:
        """Fail writes of `record_id`, or writes whose fields hold `value` (compared case-insensitively).

        `times` writes fail, then the fault is spent; None fails every matching write until clear().
        Example: add(RecordRefusal("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")).
        """
        if not record_id and value is None:
            raise ValueError("a fault needs a record_id or a value to match")
        canonical = normalize_id(record_id) or record_id if record_id else ""
        text = None if value is None else str(value).lower()
        with self._lock:
            self._faults.append(_Fault(error, canonical, text, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, record_id: str, fields: Mapping[str, Any]) -> RecordRefusal | None:
        """The planted error for this write, if any (spending one use of it)."""
        if not self._faults:
            return None
        with self._lock:
            values = {str(v).lower() for v in fields.values() if v is not None}
            for fault in self._faults:
                hit = (fault.record_id and fault.record_id == record_id) or (
                    fault.value is not None and fault.value in values)
                if not hit:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault.error
        return None
