"""Which way a write goes to Salesforce: Composite (five collections of up to 200 records a call), direct
sObject Collections (200 records a call), or one Bulk API 2.0 job (a handful of calls, however many records,
but charged to the org's daily batch allowance, DailyBulkApiBatches: one batch per 10,000 records).

`choose` is pure: from the write's size and the org's remaining allowances it picks the path that spends
the smallest share of what the org has left, and says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

COMPOSITE, COLLECTIONS, BULK = "composite", "collections", "bulk"
AUTO = "auto"
MODES = (AUTO, COMPOSITE, COLLECTIONS, BULK)  # SFDEST_WRITE_PATH

COLLECTION_RECORDS = 200  # records in one sObject Collections request
COMPOSITE_COLLECTIONS = 5  # collections in one Composite call
BATCH_RECORDS = 10_000  # Bulk API 2.0 makes a batch of every 10,000 records of a job
# Calls a Bulk API 2.0 job takes at least: create, upload, close, one poll, three result sets.
BULK_JOB_CALLS = 7
# From this many records of one write, Bulk is weighed against REST (below, REST always costs fewer calls:
# 10 Composite calls at most).
AUTO_BULK_FROM = 10_000

# Why a path was taken (a small fixed set: a metric label).
FORCED = "forced"  # the operator's SFDEST_WRITE_PATH
REST_ONLY = "rest_only"  # the write needs what only REST does (duplicate-rule or assignment headers)
SMALL = "small"  # below the size from which Bulk is weighed
FEWER_CALLS = "fewer_calls"  # the smaller share of the remaining API allowance
BATCHES_SCARCE = "batches_scarce"  # Bulk would take a larger share of the remaining batches than REST of calls
BATCHES_EXHAUSTED = "batches_exhausted"  # not enough DailyBulkApiBatches left for the job
API_SCARCE = "api_scarce"  # REST needs more calls than the org has left; Bulk fits
STREAMED = "streamed"  # an ApplyStream of upserts: streamed Bulk jobs (unless a REST path is forced)
REASONS = (FORCED, REST_ONLY, SMALL, FEWER_CALLS, BATCHES_SCARCE, BATCHES_EXHAUSTED, API_SCARCE, STREAMED)


@dataclass(frozen=True)
class Remaining:
    """What the org has left today; None: not known."""

    api_calls: int | None = None  # DailyApiRequests (as the API budget governor allows, if there is one)
    bulk_batches: int | None = None  # DailyBulkApiBatches


@dataclass(frozen=True)
class PathChoice:
    path: str  # COMPOSITE, COLLECTIONS or BULK
    reason: str  # one of REASONS
    calls: int  # API calls the path is expected to take
    batches: int = 0  # DailyBulkApiBatches it is charged


def bulk_batches(records: int) -> int:
    return math.ceil(records / BATCH_RECORDS) if records > 0 else 0


def rest_calls(records: int, composite: bool, chunk: int = COLLECTION_RECORDS) -> int:
    chunks = math.ceil(records / max(1, min(chunk, COLLECTION_RECORDS)))
    return math.ceil(chunks / COMPOSITE_COLLECTIONS) if composite else chunks


def choose(records: int, remaining: Remaining, mode: str = AUTO, composite: bool = True, rest_only: bool = False,
           chunk: int = COLLECTION_RECORDS, bulk_from: int = AUTO_BULK_FROM) -> PathChoice:
    """The path for one write of `records` records. `mode` is the operator's choice (AUTO: decide here);
    `composite`: whether REST goes through Composite; `rest_only`: Bulk cannot carry this write; `chunk`: the
    collection size the org's triggers let through; `bulk_from`: records from which Bulk is weighed (or, forced,
    used)."""
    if mode not in MODES:
        raise ValueError(f"unknown write path {mode!r}; one of {', '.join(MODES)}")
    rest_path = COLLECTIONS if mode == COLLECTIONS or not composite else COMPOSITE
    rest = rest_calls(records, rest_path == COMPOSITE, chunk)
    batches = bulk_batches(records)

    def by_rest(reason: str) -> PathChoice:
        return PathChoice(rest_path, reason, rest)

    def by_bulk(reason: str) -> PathChoice:
        return PathChoice(BULK, reason, BULK_JOB_CALLS, batches)

    if rest_only:
        return by_rest(REST_ONLY)
    if mode in (COMPOSITE, COLLECTIONS):
        return by_rest(FORCED)
    if records <= 0 or records < bulk_from:
        return by_rest(SMALL)
    if mode == BULK:
        return by_bulk(FORCED)
    api, left = remaining.api_calls, remaining.bulk_batches
    if left is not None and batches > left:
        return by_rest(BATCHES_EXHAUSTED)
    if api is not None and BULK_JOB_CALLS <= api < rest:
        return by_bulk(API_SCARCE)
    if BULK_JOB_CALLS >= rest:
        return by_rest(FEWER_CALLS)
    # Both fit (or the allowance is not known): the smaller share of what the org has left.
    if api is not None and api > 0 and left is not None and left > 0 and batches / left >= rest / api:
        return by_rest(BATCHES_SCARCE)
    return by_bulk(FEWER_CALLS)
