"""An Apex trigger that hits a governor limit on large chunks: every collection write of more than
`max_records` records fails as a whole and writes nothing (the trigger's transaction is rolled back).

The shape is what Salesforce returns per record when a trigger throws System.LimitException inside a
collection write with allOrNone false: statusCode CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY and the
message `<Trigger>: execution of <Event>` + `caused by: System.LimitException: <limit text>` (see
tools/emulator/TRIGGER_LIMITS.md for the public sources of these texts).
"""

from __future__ import annotations

from dataclasses import dataclass

CODE = "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
LIMITS = {
    "soql": "Too many SOQL queries: 101",
    "cpu": "Apex CPU time limit exceeded",
    "dml": "Too many DML statements: 151",
}
_EVENTS = {"collection_create": "BeforeInsert", "collection_update": "BeforeUpdate",
           "collection_upsert": "BeforeInsert", "collection_delete": "BeforeDelete"}


@dataclass(frozen=True)
class TriggerLimit:
    max_records: int
    limit: str = "soql"  # a key of LIMITS
    object_name: str | None = None  # None: every object
    trigger: str = "SfdestEmulatorTrigger"

    def __post_init__(self) -> None:
        if self.max_records < 1 or self.limit not in LIMITS:
            raise ValueError(f"max_records must be >= 1 and limit one of {sorted(LIMITS)}")

    def fires(self, kind: str, objects: list[str], records: int) -> bool:
        if kind not in _EVENTS or records <= self.max_records:
            return False
        return self.object_name is None or any(o.lower() == self.object_name.lower() for o in objects)

    def message(self, kind: str) -> str:
        return f"{self.trigger}: execution of {_EVENTS[kind]}\n\ncaused by: System.LimitException: {LIMITS[self.limit]}"
