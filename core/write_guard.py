"""The last check before a write goes out: with idempotent events, each record's events must still be this
attempt's (core.idempotency: their claims turn SENT); a record holding an event another attempt took over is not
sent, nor one whose claim could not be marked (the coordination store did not answer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core import outcomes
from core.codes import Code
from core.coordination import CoordinationUnavailable
from core.ports import WriteBatch, WriteOutcome

Guard = Callable[[Sequence[str]], set[str]]

TAKEN_OVER = WriteOutcome(False, error=outcomes.error(
    Code.EVENT_TAKEN_OVER, "another attempt of this event (same id, same action) took it over: this one did not "
    "write it"))
UNMARKED = WriteOutcome(False, error=outcomes.error(Code.COORDINATION_UNAVAILABLE,
                                                    "nothing was written for this event"))


def refusals(guard: Guard | None, tags: Sequence[tuple[str, ...]]) -> list[WriteOutcome | None]:
    """Per record (its events' keys): None when it may go out now, else the outcome it gets instead."""
    if guard is None or not tags:
        return [None] * len(tags)
    try:
        allowed = guard([key for keys in tags for key in keys])
    except CoordinationUnavailable:
        return [UNMARKED] * len(tags)
    return [None if all(key in allowed for key in keys) else TAKEN_OVER for keys in tags]


def guarded(guard: Guard | None, batches: Sequence[WriteBatch],
            write: Callable[[Sequence[WriteBatch]], list[list[WriteOutcome]]]) -> list[list[WriteOutcome]]:
    """`write(batches)` with the records the guard refuses left out (and answered as it says)."""
    refused = [refusals(guard, b.tags) if b.tags else [None] * len(b.items) for b in batches]
    if not any(r is not None for rows in refused for r in rows):
        return write(batches)
    kept = [WriteBatch(b.kind, [item for item, r in zip(b.items, rows, strict=True) if r is None],
                       b.external_id_field, [t for t, r in zip(b.tags, rows, strict=True) if r is None])
            for b, rows in zip(batches, refused, strict=True)]
    sent = iter(write(kept))
    out = []
    for rows in refused:
        done = iter(next(sent))
        out.append([r if r is not None else next(done) for r in rows])
    return out
