"""Daily API usage (the Sforce-Limit-Info header), the daily Bulk API batch allowance, call counters and the
per-call latency."""

from __future__ import annotations

import math
import threading
from collections import Counter

# GET /limits: every limit a Developer Edition org reports, as {Max, Remaining} (DailyApiRequests and
# DailyBulkApiBatches are live).
ORG_LIMITS: dict[str, int] = {
    "ConcurrentAsyncGetReportInstances": 200, "ConcurrentSyncReportRuns": 20, "DailyApiRequests": 15000,
    "DailyAsyncApexExecutions": 250000, "DailyBulkApiRequests": 5000, "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyBulkV2QueryJobs": 10000, "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000, "DailyGenericStreamingApiEvents": 10000,
    "DailyStreamingApiEvents": 10000, "DailyWorkflowEmails": 390, "DataStorageMB": 5,
    "DurableStreamingApiConcurrentClients": 20, "FileStorageMB": 20, "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200, "HourlyDashboardResults": 5000, "HourlyDashboardStatuses": 999999999,
    "HourlyODataCallout": 10000, "HourlySyncReportRuns": 500, "HourlyTimeBasedWorkflow": 50, "MassEmail": 10,
    "SingleEmail": 15, "StreamingApiConcurrentClients": 20,
}
# Batches a rolling 24 hours allows, shared by Bulk API and Bulk API 2.0 (Salesforce: 15,000 per org). Bulk API
# 2.0 makes one batch of every 10,000 records of an ingest job; query jobs take none. (Documented: Bulk API 2.0
# Developer Guide, "Limits" and "Understanding Bulk API 2.0 Ingest"; the empty "parent" batch of the upload the
# guide mentions is not counted here.)
BULK_BATCHES = 15_000
BATCH_RECORDS = 10_000


def job_batches(records: int) -> int:
    """The batches an ingest job of `records` records is charged."""
    return math.ceil(records / BATCH_RECORDS)


class Usage:
    """Counts data calls: a daily allocation like Salesforce's, plus resettable counters for tests.

    `used`/`limit` drive `Sforce-Limit-Info: api-usage=used/limit` and the 403 past the limit.
    `api_calls` and `calls` (per kind) count every authenticated data request the emulator
    received, including those answered by an injected fault; `reset()` zeroes them (not `used`).
    """

    def __init__(self, limit: int = 100_000):
        self._lock = threading.Lock()
        self.limit = limit
        self.used = 0
        self.api_calls = 0
        self.calls: Counter[str] = Counter()
        # Subrequests of Composite calls by kind: run by the org, never counted as API calls.
        self.subrequests: Counter[str] = Counter()
        self.batches_used, self.batches_limit = 0, BULK_BATCHES  # DailyBulkApiBatches

    def count(self, kind: str) -> bool:
        """Count one call of `kind`; False when the daily allocation is already spent."""
        with self._lock:
            self.api_calls += 1
            self.calls[kind] += 1
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def count_batches(self, batches: int) -> None:
        with self._lock:
            self.batches_used += batches

    def set_batches(self, used: int | None = None, limit: int | None = None) -> None:
        with self._lock:
            if used is not None:
                self.batches_used = used
            if limit is not None:
                self.batches_limit = limit

    def count_subrequest(self, kind: str) -> None:
        with self._lock:
            self.subrequests[kind] += 1

    def limits(self) -> dict[str, dict[str, int]]:
        """The body of GET /limits, DailyApiRequests and DailyBulkApiBatches from the live daily usage."""
        with self._lock:
            used, limit = self.used, self.limit
            batches_used, batches_limit = self.batches_used, self.batches_limit
        out = {name: {"Max": n, "Remaining": n} for name, n in ORG_LIMITS.items()}
        out["DailyApiRequests"] = {"Max": limit, "Remaining": max(limit - used, 0)}
        out["DailyBulkApiBatches"] = {"Max": batches_limit, "Remaining": max(batches_limit - batches_used, 0)}
        return out

    def header(self) -> str:
        with self._lock:
            return f"api-usage={self.used}/{self.limit}"

    def set(self, used: int | None = None, limit: int | None = None) -> None:
        with self._lock:
            if used is not None:
                self.used = used
            if limit is not None:
                self.limit = limit

    def reset(self) -> None:
        with self._lock:
            self.api_calls = 0
            self.calls.clear()
            self.subrequests.clear()
