"""Writes by Id that met a merged-away record: follow the merge to the surviving record, or name it."""

from __future__ import annotations

from dataclasses import replace

from core.execution import Write, run_keyed_rounds
from core.model import EventResult, ResultError
from core.ports import BackendError, RecordStore

MAX_HOPS = 5  # a record merged into one that was merged in turn, and so on


def _merged_away(result: EventResult) -> bool:
    return result.error is not None and result.error.code == "ENTITY_IS_DELETED"


def follow_merges(store: RecordStore, object_name: str, writes: list[Write], results: dict[int, EventResult],
                  deadline: float | None) -> None:
    """Updates go on to the record their target was merged into (up to MAX_HOPS merges, one queryAll per hop
    for every such write of the batch); a delete is a 404 naming the surviving record."""
    origin = {w.event.index: w.target for w in writes}
    pending = [w for w in writes if _merged_away(results[w.event.index])]
    met = {w.event.index for w in pending}
    done = [w for w in writes if w.event.index not in met and results[w.event.index].error is None]
    for _ in range(MAX_HOPS):
        if not pending:
            return
        try:
            masters = store.merged_into(object_name, [w.target for w in pending])
        except BackendError:
            return  # the 404s stand, without the surviving record's name
        for w in pending:
            if w.target in masters and w.kind == "delete":
                i = w.event.index
                results[i] = replace(results[i], matched_ids=(masters[w.target],), error=ResultError(
                    "ENTITY_IS_DELETED", f"{object_name} {w.target} was merged into {masters[w.target]}; a delete "
                    "does not follow merges, so nothing was deleted"))
        moved = [replace(w, target=masters[w.target], round=0) for w in pending
                 if w.target in masters and w.kind != "delete"]
        # Later events of the batch already wrote a record these now reach: write them again after these,
        # so the record ends as event order leaves it.
        first: dict[str, int] = {}
        for w in moved:
            first.setdefault(w.target, w.event.index)
        later = [replace(w, round=0) for w in done if w.target in first and w.event.index > first[w.target]]
        results.update(run_keyed_rounds(store, object_name, sorted(moved + later, key=lambda w: w.event.index),
                                        deadline))
        for w in moved:
            if not _merged_away(results[w.event.index]):
                results[w.event.index] = replace(results[w.event.index], matched_ids=(origin[w.event.index],))
        pending = [w for w in moved if _merged_away(results[w.event.index])]
        done += [w for w in moved if not _merged_away(results[w.event.index])]
    for w in pending:
        i = w.event.index
        results[i] = replace(results[i], error=ResultError(
            "ENTITY_IS_DELETED", f"{object_name} {origin[i]} was merged more than {MAX_HOPS} times; the last "
            f"record reached, {w.target}, is deleted too; nothing was written"))
