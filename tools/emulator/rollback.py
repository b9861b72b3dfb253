"""allOrNone: undo one request's writes to the shared Org. Reaches into Org internals (see Snapshot)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.memory.org import Org


class Snapshot:
    """The live rows of some objects, restorable through the Table's own insert/replace/remove.

    The Org has no transaction API, so this reads `Org._tables`, `Org._deleted` and `Table._rows`.
    Rows are replaced, never mutated in place, so a shallow copy of the row dict is a faithful
    snapshot. Hold `org_lock(org)` from construction to `restore` so no other writer interleaves.
    """

    def __init__(self, org: Org, object_names: Iterable[str]):
        self.org = org
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        for name in object_names:
            table = org._tables.get(name.lower())
            if table is not None and name.lower() not in self.rows:
                self.rows[name.lower()] = dict(table._rows)
        self.deleted = dict(org._deleted)

    def restore(self) -> None:
        for name, before in self.rows.items():
            table = self.org._tables[name]
            now = dict(table._rows)
            for rid in now.keys() - before.keys():
                table.remove(rid)
            for rid, row in before.items():
                if rid not in now:
                    table.insert(rid, row)
                elif now[rid] is not row:
                    table.replace(rid, row)
        self.org._deleted.clear()
        self.org._deleted.update(self.deleted)


def org_lock(org: Org) -> Any:
    """The Org's own re-entrant lock, so a whole allOrNone request is atomic for other callers."""
    return org._lock
