"""Newest event wins (opt-in: Action.newest_event_wins).

Per (org, object, hashed record key) the coordination store keeps a stamp of the newest event applied: its
timestamp and id. Events are ordered by (timestamp, event id), so ties break the same way on every replica.

- Within one batch, only the newest event of each record key is written; the older ones are answered 200
  STALE_SKIPPED naming it (they would be overwritten at once anyway).
- An event older than the stamp already stored is answered 200 STALE_SKIPPED naming the stored winner; the
  same event again (equal stamp: a host retry) is written again (same values).
- The check, the write and the new stamp happen while the batch holds the record-key lease of every key it
  writes (core.coordination.holding), so writes for one key never interleave across calls or replicas; the
  stamp is stored with a compare-and-set (never lowered), and only once the write succeeded.

Stored: the hashed key and "timestamp event-id"; never a customer value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from core import outcomes
from core.codes import Code
from core.coordination import CoordinationUnavailable, HeldKeys, KeyLeases, holding
from core.execution import halted
from core.model import Event, EventResult
from core.outcomes import failure, invalid, stale
from core.preparation import Prepared

# How long a stamp is kept after its last write, unless set otherwise (SFDEST_ORDERING_RETENTION_SECONDS): an
# event older than it arriving later than this is applied.
STAMP_TTL_SECONDS = 30 * 86_400.0


class NewestEvents(Protocol):
    """Stamps of the newest event applied, by hashed key. Both methods may raise CoordinationUnavailable."""

    def newest(self, keys: Sequence[str]) -> list[str | None]:
        """The stamp stored for each key (None: no event applied yet)."""
        ...

    def advance(self, stamps: Mapping[str, str], ttl_seconds: float) -> None:
        """Store each key's stamp unless a newer one is stored already (atomically: it never goes back)."""
        ...


def stamp(timestamp_ns: int, event_id: str) -> str:
    """Stamps compare as strings in (timestamp, event id) order: the timestamp is fixed-width."""
    return f"{max(0, timestamp_ns):020d} {event_id}"


def winner_of(stored: str) -> str:
    return stored.split(" ", 1)[1] if " " in stored else ""


def ordering_key(record_key: str) -> str:
    """Where a record key's stamp is kept: the same hash, another name."""
    return "sfdest:newest:" + record_key.rsplit(":", 1)[-1]


_UNAVAILABLE = outcomes.error(Code.COORDINATION_UNAVAILABLE, "nothing was written for this event")
_BUSY = outcomes.error(Code.DEADLINE_EXCEEDED, "another call was writing this event's record until the deadline; "
                    "nothing was written for it")


@contextmanager
def newest_first(store: NewestEvents, leases: KeyLeases | None, events: Sequence[Event],
                 prepared: list[Prepared], keys_of: Callable[[Prepared], tuple[str, set[str]]],
                 results: dict[int, EventResult], dry_run: bool, deadline: float | None,
                 stop: Callable[[], bool] | None,
                 retention_seconds: float = STAMP_TTL_SECONDS) -> Iterator[list[Prepared]]:
    """Yield the events to write (the newest of each record key, newer than its stored stamp); answer the
    others in `results`. `keys_of(p)` is (p's record key, the lease keys its write needs). After the block,
    the stamps of the events written successfully are stored, each kept `retention_seconds`."""
    dated: list[tuple[Prepared, str, set[str]]] = []
    for p in prepared:
        ts = events[p.index].timestamp_ns
        if ts is None:
            results[p.index] = invalid(p.event_id, Code.EVENT_TIMESTAMP_MISSING, "the action orders events "
                                       "(newest_event_wins): this event has no timestamp", ("timestamp",))
            continue
        key, lease_keys = keys_of(p)
        dated.append((p, key, lease_keys))
    newest: dict[str, tuple[str, Prepared, set[str]]] = {}
    for p, key, lease_keys in dated:
        mine = stamp(events[p.index].timestamp_ns or 0, p.event_id)
        if key not in newest or mine > newest[key][0]:
            newest[key] = (mine, p, lease_keys | {key})
    for p, key, _ in dated:
        if newest[key][1] is not p:
            results[p.index] = stale(p.event_id, newest[key][1].event_id)
    wanted = {k for _, _, ks in newest.values() for k in ks}
    with _held(leases, wanted, dry_run, deadline, stop) as held:
        kept: list[tuple[str, str, Prepared]] = []
        for key, (s, p, ks) in newest.items():
            if held is not None and not ks <= held:
                results[p.index] = failure(p.event_id, halted(deadline, stop, "looked up")
                                           or (_UNAVAILABLE if held.unavailable else _BUSY))
            else:
                kept.append((key, s, p))
        try:
            stored = store.newest([ordering_key(key) for key, _, _ in kept]) if kept else []
        except CoordinationUnavailable:
            for _, _, p in kept:
                results[p.index] = failure(p.event_id, _UNAVAILABLE)
            kept, stored = [], []
        fresh = []
        for (key, s, p), current in zip(kept, stored, strict=True):
            if current is not None and current > s:
                results[p.index] = stale(p.event_id, winner_of(current))
            else:
                fresh.append((key, s, p))
        yield [p for _, _, p in sorted(fresh, key=lambda f: f[2].index)]
        if dry_run:
            return
        written = {ordering_key(key): s for key, s, p in fresh if p.index in results and results[p.index].status < 300}
        try:
            if written:
                store.advance(written, retention_seconds)
        except CoordinationUnavailable:
            pass  # the writes stand; an older event arriving later may then be written (README)


@contextmanager
def _held(leases: KeyLeases | None, keys: set[str], dry_run: bool, deadline: float | None,
          stop: Callable[[], bool] | None) -> Iterator[HeldKeys | None]:
    """The leases of `keys` while the block runs; None when no lease is needed (a dry run, or no lease port)."""
    if leases is None or dry_run:
        yield None
        return
    with holding(leases, keys, deadline, stop) as held:
        yield held
