"""The coordination port: leases on hashed keys, so that events which may create the same record run one
at a time across concurrent calls (and, behind a shared adapter, across replicas).

A key names (org, object, matcher values) through a SHA-256 digest: an adapter never stores a customer value.
A lease expires (a holder that died cannot block a key for ever) and carries a fencing number that grows
with every grant, so a store that can check it can refuse a holder whose lease was taken over.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

# How long a call waits for one key before looking again whether it was cancelled.
_WAIT_SLICE = 0.25
# A lease outlives the call's deadline by this much; without a deadline it lasts this long at most.
_TTL_SLACK, _TTL_WITHOUT_DEADLINE = 5.0, 600.0


class CoordinationUnavailable(Exception):
    """The shared coordination store did not answer in time; nothing was granted."""


class HeldKeys(set[str]):
    """The keys `holding` got; `unavailable` when the coordination store stopped answering."""

    unavailable: bool = False


@dataclass(frozen=True)
class Lease:
    key: str
    holder: str  # an opaque token of the holder: only it releases the lease
    fence: int  # grows with every grant of the key
    expires_at: float  # time.monotonic() instant: after it, another caller may be granted the key


class KeyLeases(Protocol):
    """Exclusive, expiring leases on opaque keys."""

    def acquire(self, key: str, ttl_seconds: float, wait_until: float | None) -> Lease | None:
        """The lease on `key` for `ttl_seconds`, waiting while another holder has it, at most until
        `wait_until` (a time.monotonic() instant; None waits as long as it takes); None if not granted.
        Raises CoordinationUnavailable when a shared store does not answer."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease back; a lease that expired and was granted to another holder is left alone."""
        ...


class SharedTokens(Protocol):
    """Access tokens shared by replicas, so that one token request per org serves them all.

    `identity` is a grant's public parts and secrets: an adapter keys entries by a keyed hash of it (never the
    secrets themselves) and seals the tokens at rest. Every method may raise CoordinationUnavailable.
    """

    def read(self, identity: Sequence[str]) -> str | None:
        """The token a replica stored for this grant, if any (none once it was forgotten)."""
        ...

    def lease(self, identity: Sequence[str], ttl_seconds: float, wait_until: float | None) -> Lease | None:
        """The right to request a new token for this grant (one holder across replicas), as KeyLeases.acquire."""
        ...

    def write(self, identity: Sequence[str], token: str, lease: Lease, ttl_seconds: float) -> bool:
        """Store `token`, unless a holder with a newer fence already stored one (then False)."""
        ...

    def release(self, lease: Lease) -> None:
        ...

    def forget(self, identity: Sequence[str], token: str) -> None:
        """Drop the stored token if it is still `token` (Salesforce refused it); a newer one is kept."""
        ...

    def rotation(self, identity: Sequence[str]) -> str | None:
        """The newest refresh token Salesforce rotated this grant's to, if it did."""
        ...

    def rotate(self, identity: Sequence[str], refresh_token: str) -> None:
        """Remember that this grant's refresh token is now `refresh_token` (the old one no longer works)."""
        ...


class SharedSlots(Protocol):
    """A counting semaphore across replicas: at most `cap` holders of `key` at once, each an expiring lease
    (a replica that dies frees its slots when they expire). Both methods may raise CoordinationUnavailable."""

    def acquire(self, key: str, cap: int, ttl_seconds: float, wait_until: float | None) -> Lease | None:
        ...

    def release(self, lease: Lease) -> None:
        ...


def org_key(instance_url: str) -> str:
    """The hashed name of an org (its instance URL), for per-org shared state."""
    return hashlib.sha256((instance_url or "").strip().rstrip("/").lower().encode()).hexdigest()


# What an EventLedger holds for an event claimed but not yet settled: PENDING ("pending|<attempt's ledger>|<its
# deadline, wall-clock ms>") while no write of it was sent, SENT ("sent|<ledger>") once one may have been.
PENDING, SENT = "pending", "sent"


class EventLedger(Protocol):
    """Claims and recorded results of events, by hashed key, kept `ttl_seconds` (the idempotency window).
    Every method may raise CoordinationUnavailable.

    A claim belongs to the ledger that took it (one per replica, kept alive while the replica runs). A claim
    still PENDING whose attempt can no longer write (its replica stopped, or its deadline passed) is taken over by
    the next claim of the key: nothing of that event was sent. Before a write of an event goes out, its claim
    turns SENT (only while it is still this ledger's): a SENT claim is never taken over.
    """

    def claim(self, keys: Sequence[str], ttl_seconds: float, until: float) -> list[str | None]:
        """Claim each free key, or one PENDING for an attempt that can no longer write (None in the answer: it
        is now yours, PENDING until `until`, a wall-clock instant); a taken key answers what it holds."""
        ...

    def sent(self, keys: Sequence[str]) -> list[bool]:
        """Turn this ledger's PENDING claims SENT, before a write of them goes out; False for a key that is not
        (any longer) this ledger's PENDING claim: that write must not go out."""
        ...

    def record(self, results: dict[str, str], ttl_seconds: float) -> None:
        """Store each key's recorded result (replacing the claim)."""
        ...

    def release(self, keys: Sequence[str], force: bool = False) -> None:
        """Drop this ledger's claims of these keys (nothing was written: the next attempt does the work); `force`:
        whichever attempt's claims they are (never a recorded result)."""
        ...


class BulkJobs(Protocol):
    """Running Bulk API jobs shared by replicas, so that a job outliving its replica is picked up by another.

    A job is named by an opaque key; its `payload` (what is needed to tie its results back: the uploaded rows,
    hence customer values) is sealed at rest by a shared adapter. `event_keys` (hashes, core.idempotency) say
    which events the job holds. One replica at a time owns a job (an expiring lease it renews while polling).
    Every method may raise CoordinationUnavailable.
    """

    def register(self, job_key: str, payload: str, event_keys: Sequence[str], ttl_seconds: float) -> None:
        ...

    def find(self, event_keys: Sequence[str]) -> dict[str, str]:
        """Of `event_keys`, those in a registered job: event key -> job key."""
        ...

    def load(self, job_key: str) -> str | None:
        """The job's payload; None once the job was forgotten (or it does not open under this state key)."""
        ...

    def own(self, job_key: str, holder: str, ttl_seconds: float) -> bool:
        """Take the job's owner lease for `ttl_seconds`, or renew it when `holder` has it; False while another
        holder's lease runs."""
        ...

    def disown(self, job_key: str, holder: str) -> None:
        ...

    def forget(self, job_keys: Sequence[str]) -> None:
        """The jobs' results were delivered (and recorded): drop them."""
        ...


def record_key(instance_url: str, object_name: str, matchers: Iterable[tuple[str, Any]]) -> str:
    """The key of the record that (org, object, matcher values) may create; `matchers` are (field, match key)."""
    org = (instance_url or "").strip().rstrip("/").lower()
    text = repr((org, object_name.lower(), sorted((name.lower(), repr(key)) for name, key in matchers)))
    return "sfdest:record:" + hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def holding(leases: KeyLeases, keys: Iterable[str], deadline: float | None,
            stop: Callable[[], bool] | None = None) -> Iterator[HeldKeys]:
    """Hold every key it can get before `deadline` (or until `stop()`), yielding those held; released after.

    Keys are taken in sorted order, so two calls wanting overlapping keys never wait on each other in a
    cycle. Once one key cannot be had, no more are taken: the caller leaves the events needing them out.
    A store that stops answering ends the taking too (the result says `unavailable`); a release it misses
    is left to the lease's expiry.
    """
    held: list[Lease] = []
    got = HeldKeys()
    ttl = (deadline - time.monotonic() if deadline is not None else _TTL_WITHOUT_DEADLINE) + _TTL_SLACK
    try:
        for key in sorted(set(keys)):
            lease = None
            while lease is None and not (stop is not None and stop()):
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                wait_until = now + _WAIT_SLICE if deadline is None else min(deadline, now + _WAIT_SLICE)
                try:
                    lease = leases.acquire(key, max(ttl, _TTL_SLACK), wait_until)
                except CoordinationUnavailable:
                    got.unavailable = True
                    break
            if lease is None:
                break
            held.append(lease)
        got.update(lease.key for lease in held)
        yield got
    finally:
        for lease in reversed(held):
            try:
                leases.release(lease)
            except CoordinationUnavailable:
                pass  # it expires on its own
