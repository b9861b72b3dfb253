"""The emulator's latency model: a base per call plus a cost per record written or read, and Bulk API jobs
that process their records at a fixed rate (polls see InProgress with numberRecordsProcessed rising).

Defaults (see README, "The emulator's latency model", for where they come from): 60 ms per call,
4 ms per record a collection writes, 0.2 ms per record a query returns, 2,000 Bulk records a second. A Composite
call is one base plus the per-record costs of all its subrequests (Salesforce runs them in turn).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tools.emulator.wire import Reply

WRITE_KINDS = frozenset({"collection_create", "collection_update", "collection_upsert", "collection_delete",
                         "sobject_create", "sobject_update", "sobject_upsert", "sobject_delete"})
QUERY_KINDS = frozenset({"query", "query_more"})


@dataclass(frozen=True)
class LatencyModel:
    base_ms: float = 60.0
    write_record_ms: float = 4.0
    query_record_ms: float = 0.2
    bulk_records_per_second: float = 2000.0

    @classmethod
    def fixed(cls, ms: float) -> LatencyModel:
        """The old model: the same latency for every call, Bulk jobs done at the first poll."""
        return cls(ms, 0.0, 0.0, 0.0)

    def seconds(self, kind: str, reply: Reply) -> float:
        """The time a call of `kind` answered by `reply` takes. A Composite call runs its subrequests one after
        another in one call: its base, plus each subrequest's records at their cost (a collection's results
        as written records, a query's as records read)."""
        if kind == "composite":
            return (self.base_ms + self._subrequests_ms(reply)) / 1000
        per_record = self.write_record_ms if kind in WRITE_KINDS else self.query_record_ms \
            if kind in QUERY_KINDS else 0.0
        records = _records(kind, reply) if per_record and reply.status < 300 else 0
        return (self.base_ms + per_record * records) / 1000

    def _subrequests_ms(self, reply: Reply) -> float:
        try:
            body = json.loads(reply.body) if reply.body and reply.status < 300 else None
        except ValueError:
            return 0.0
        subs = body.get("compositeResponse") if isinstance(body, dict) else None
        total = 0.0
        for sub in subs if isinstance(subs, list) else []:
            if not isinstance(sub, dict) or not 200 <= sub.get("httpStatusCode", 500) < 300:
                continue
            result = sub.get("body")
            if isinstance(result, list):  # a collection's results, one per record
                total += self.write_record_ms * len(result)
            elif isinstance(result, dict) and isinstance(result.get("records"), list):
                total += self.query_record_ms * len(result["records"])
        return total

    def bulk_processed(self, total: int, elapsed_seconds: float) -> int:
        """Records of a Bulk job processed `elapsed_seconds` after its upload completed."""
        if self.bulk_records_per_second <= 0:
            return total
        return min(total, int(elapsed_seconds * self.bulk_records_per_second))


def _records(kind: str, reply: Reply) -> int:
    if kind.startswith("sobject_"):
        return 1
    try:
        body = json.loads(reply.body) if reply.body else None
    except ValueError:
        return 0
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict) and isinstance(body.get("records"), list):
        return len(body["records"])
    return 0
