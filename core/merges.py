"""Records merged away: writes by Id follow the merge to the surviving record (or name it), and lookups whose
Id matchers name such a record find the survivor instead."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from core import outcomes
from core.codes import Code
from core.execution import Write, run_keyed_rounds
from core.model import EventResult, ResultError
from core.names import normalize_id
from core.outcomes import failure
from core.ports import BackendError, FieldIn, Lookup, Record, RecordStore
from core.preparation import Prepared

MAX_HOPS = 5  # a record merged into one that was merged in turn, and so on


def _merged_away(result: EventResult) -> bool:
    return result.error is not None and result.error.code == Code.ENTITY_IS_DELETED


def follow_merges(store: RecordStore, object_name: str, writes: list[Write], results: dict[int, EventResult],
                  deadline: float | None) -> None:
    """Updates go on to the record their target was merged into (up to MAX_HOPS merges, one queryAll per hop
    for every such write of the batch); a delete is a 404 naming the surviving record (its merges followed as far,
    one queryAll per further hop only when the record it was merged into was merged in turn)."""
    origin = {w.event.index: w.target for w in writes}
    pending = [w for w in writes if _merged_away(results[w.event.index])]
    met = {w.event.index for w in pending}
    done = [w for w in writes if w.event.index not in met and results[w.event.index].error is None]
    survivor: dict[int, str] = {}  # a delete's event: the record its target's merges lead to, as far as known
    chasing: set[int] = set()  # deletes whose survivor so far may itself have been merged away
    for _ in range(MAX_HOPS):
        if not pending and not chasing:
            break
        try:
            masters = store.merged_into(object_name, [w.target for w in pending] + [survivor[i] for i in chasing])
        except BackendError:
            pending = []  # the 404s stand, naming the surviving record as far as it is known
            break
        for i in list(chasing):
            if survivor[i] in masters:
                survivor[i] = masters[survivor[i]]
            else:
                chasing.discard(i)
        for w in pending:
            if w.target in masters and w.kind == "delete":
                survivor[w.event.index] = masters[w.target]
                chasing.add(w.event.index)
        moved = [replace(w, target=masters[w.target], round=0) for w in pending
                 if w.target in masters and w.kind != "delete"]
        # Later events of the batch already wrote a record these now reach: write them again after these,
        # so the record ends as event order leaves it.
        first: dict[str, int] = {}
        for w in moved:
            first.setdefault(w.target, w.event.index)
        later = [replace(w, round=0) for w in done if w.target in first and w.event.index > first[w.target]]
        if moved:
            results.update(run_keyed_rounds(store, object_name, sorted(moved + later, key=lambda w: w.event.index),
                                            deadline))
        for w in moved:
            if not _merged_away(results[w.event.index]):
                results[w.event.index] = replace(results[w.event.index], matched_ids=(origin[w.event.index],))
        pending = [w for w in moved if _merged_away(results[w.event.index])]
        done += [w for w in moved if not _merged_away(results[w.event.index])]
    for i, rid in survivor.items():
        results[i] = replace(results[i], matched_ids=(rid,), error=merged_delete_error(object_name, origin[i], rid))
    for w in pending:
        i = w.event.index
        results[i] = replace(results[i], error=merged_too_often(object_name, origin[i], w.target))


def _by_id(object_name: str, select: Sequence[str], ids: Collection[str], include_deleted: bool = False) -> Lookup:
    return Lookup(object_name, tuple(select), ((FieldIn("Id", tuple(sorted(ids))),),), include_deleted)


def lookup_following_merges(store: RecordStore, object_name: str, lookup: Lookup | None, read_ids: Collection[str],
                            other_ids: Collection[str]) -> tuple[list[Record], dict[str, str], dict[str, str]]:
    """`lookup`'s records, and where Id matchers name records merged away, the records their merges lead to.

    The merges of every id (`read_ids`, values `lookup` reads; `other_ids`, a cascade's later groups) are read
    from the recycle bin (queryAll) in the same call as `lookup` (one Composite); only when some id was merged
    does each further hop cost one more call for the whole batch, reading the next merges and, for `read_ids`,
    the records reached (with `lookup`'s fields). Ids are 18-character. Returns the records, {id merged away:
    the live record reached}, and {id merged more than MAX_HOPS times: the last record reached}."""
    records: list[Record] = []
    reach = {i: i for i in (*read_ids, *other_ids)}
    pending, reads = set(reach), [lookup] if lookup is not None else []
    for hop in range(MAX_HOPS + 1):
        answers = store.find_many([*reads, _by_id(object_name, ("Id", "MasterRecordId"), pending, True)])
        for found in answers[:-1]:
            records += found
        masters = {str(r["Id"]): str(r["MasterRecordId"]) for r in answers[-1] if r.get("MasterRecordId")}
        moved = {origin: masters[now] for origin, now in reach.items() if now in masters}
        if not moved or hop == MAX_HOPS:
            too_far = {origin: reach[origin] for origin in moved}
            return records, {o: n for o, n in reach.items() if n != o and o not in too_far}, too_far
        reach.update(moved)
        pending = set(moved.values())
        wanted = {now for origin, now in moved.items() if origin in read_ids} - {str(r["Id"]) for r in records}
        reads = [_by_id(object_name, lookup.select, wanted)] if wanted and lookup is not None else []
    return records, {}, {}  # not reached: the last hop returns


def lookup_with_masters(store: RecordStore, object_name: str, lookup: Lookup | None, ids: Collection[str]
                        ) -> tuple[list[Record], dict[str, str]]:
    """`lookup`'s records and, read in the same call, the record each of `ids` merged away was merged into (a
    delete does not follow merges: it names the record)."""
    answers = store.find_many([*([lookup] if lookup is not None else []),
                               _by_id(object_name, ("Id", "MasterRecordId"), ids, True)])
    masters = {str(r["Id"]): str(r["MasterRecordId"]) for r in answers[-1] if r.get("MasterRecordId")}
    return [r for found in answers[:-1] for r in found], masters


def merged_delete_error(object_name: str, rid: str, master: str) -> ResultError:
    return outcomes.error(Code.ENTITY_IS_DELETED, f"{object_name} {rid} was merged into {master}; a delete does "
                          "not follow merges, so nothing was deleted")


def merged_too_often(object_name: str, given: str, last: str) -> ResultError:
    return outcomes.error(Code.ENTITY_IS_DELETED, f"{object_name} {given} was merged more than {MAX_HOPS} times; "
                          f"the last record reached, {last}, is deleted too; nothing was written")


def id_values(p: Prepared) -> list[tuple[int, str]]:
    """(group, 18-character id) of each Id matcher value of the event."""
    return [(g, rid) for g, values in enumerate(p.groups) if values
            for name, value in values.items() if name.lower() == "id"
            and isinstance(value, str) and (rid := normalize_id(value))]


def turn_to_survivors(object_name: str, prepared: list[Prepared], survivors: dict[str, str], too_far: dict[str, str],
                      followed: dict[int, str]) -> dict[int, EventResult]:
    """Each Id matcher value naming a merged-away record becomes the survivor's id (the value given is kept in
    `followed`, for the result's matched_ids); the failures of events whose record was merged too often."""
    failed: dict[int, EventResult] = {}
    for p in prepared:
        for g, rid in id_values(p):
            values = p.groups[g] or {}
            name = next(n for n in values if n.lower() == "id" and normalize_id(str(values[n])) == rid)
            if rid in too_far:
                failed[p.index] = failure(p.event_id, merged_too_often(object_name, values[name], too_far[rid]))
            elif rid in survivors:
                followed.setdefault(p.index, str(values[name]))
                values[name] = survivors[rid]
    return failed
