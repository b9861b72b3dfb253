"""One store's write paths: each write's path chosen by core.write_paths from the org's remaining allowances
(the API calls the governor or Sforce-Limit-Info leaves, the Bulk API batches /limits told), the paths
taken, and the most calls a write can take (reserved before a lookup that precedes it)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from adapters.salesforce import composite
from adapters.salesforce.bulk import BulkSettings
from adapters.salesforce.bulk_batches import OrgBatches
from adapters.salesforce.chunking import ChunkSizes
from adapters.salesforce.transport import Session
from core.telemetry import org_label
from core.write_paths import AUTO, BULK, COLLECTIONS, COMPOSITE, REST_ONLY, PathChoice, Remaining, choose


@dataclass(frozen=True)
class WriteRouting:
    """How writes choose their path: the operator's mode (core.write_paths.MODES), and the org's Bulk API
    batch allowance (None: never read)."""

    mode: str = AUTO
    batches: OrgBatches | None = None


class WriteRouter:
    """Thread-safe."""

    def __init__(self, session: Session, routing: WriteRouting, bulk: BulkSettings, composite: bool,
                 chunk_sizes: ChunkSizes):
        self._session, self._routing, self._bulk = session, routing, bulk
        self._composite, self._chunk_sizes = composite, chunk_sizes
        self._lock = threading.Lock()
        self._paths: set[str] = set()

    @property
    def taken(self) -> str:
        """The paths taken ("bulk", "composite", "collections"; several joined by "+")."""
        with self._lock:
            return "+".join(p for p in (BULK, COMPOSITE, COLLECTIONS) if p in self._paths)

    @property
    def bulk_allowed(self) -> bool:
        """False when the operator forces a REST path (SFDEST_WRITE_PATH composite or collections)."""
        return self._routing.mode not in (COMPOSITE, COLLECTIONS)

    def took(self, choice: PathChoice) -> None:
        with self._lock:
            self._paths.add(choice.path)
        self._session.telemetry.write_path(org_label(self._session.base_url), choice.path, choice.reason)

    def rest(self, reason: str = REST_ONLY) -> PathChoice:
        return PathChoice(COMPOSITE if self._composite else COLLECTIONS, reason, 0)

    def charge(self, choice: PathChoice) -> None:
        """The job of a Bulk choice is under way: its batches count against the org's allowance."""
        if self._routing.batches is not None:
            self._routing.batches.charge(choice.batches)

    def choose(self, records: int, object_name: str, rest_only: bool) -> PathChoice:
        mode = self._routing.mode
        bulk_from = self._bulk.bulk_from(forced=mode == BULK)
        weigh = mode == AUTO and not rest_only and records >= bulk_from
        return choose(records, self._remaining() if weigh else Remaining(), mode, self._composite, rest_only,
                      self._chunk(object_name), bulk_from)

    def most_calls(self, object_name: str, records: int, kinds: int) -> int:
        """The most calls writing `records` records of up to `kinds` kinds takes over REST (a Bulk job, chosen
        only where it costs fewer, takes fewer)."""
        if records <= 0:
            return 0
        chunks = min(records, math.ceil(records / self._chunk(object_name)) + max(1, kinds) - 1)
        return math.ceil(chunks / composite.MAX_COLLECTIONS_OR_QUERIES) if self._composite else chunks

    def _chunk(self, object_name: str) -> int:
        return self._chunk_sizes.of(self._session.base_url, object_name).next()[0]

    def _remaining(self) -> Remaining:
        """What the org has left: API calls (the governor's count, else the last Sforce-Limit-Info) and Bulk
        API batches (read from /limits while unknown: one request of the org's across sessions and replicas,
        which also tells the governor its allowance; concurrent writes wait for its answer, bounded). When the
        shared store of the batches does not answer, they count as unknown, as the governor's calls do then
        (core.write_paths.choose weighs calls alone), and nothing is asked."""
        batches = self._routing.batches
        left = batches.left() if batches is not None else None
        if batches is not None and left is None and not batches.unreachable:
            self._session.read_limits(batches)
            left = batches.left()
        budget, usage = self._session.budget, self._session.org_usage
        api = budget.left() if budget.active else (max(0, usage.limit - usage.used) if usage else None)
        return Remaining(api, left)
