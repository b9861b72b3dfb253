"""SalesforceStore: the RecordStore port over the REST API (describe, SOQL lookups, sObject Collections)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from adapters.salesforce import composite, soql, write_plan
from adapters.salesforce.bulk import NOT_PERMITTED, BulkJob, BulkSettings, bulk_row, holds_hash_na
from adapters.salesforce.bulk_handover import BulkTracker
from adapters.salesforce.bulk_stream import BulkStream
from adapters.salesforce.chunking import ChunkSizes, send_sized
from adapters.salesforce.describe_cache import DescribeCache
from adapters.salesforce.retry import Attempts
from adapters.salesforce.transport import Session, is_lock_error, is_transient, merge_errors, refusal_of
from adapters.salesforce.write_headers import duplicate_ids
from adapters.salesforce.write_routing import WriteRouter, WriteRouting
from core import outcomes
from core.codes import Code
from core.describe import ObjectDescribe
from core.describe_rest import describe_from_rest
from core.model import ApiUsage, ResultError
from core.names import normalize_id
from core.paths import ACTION
from core.ports import (
    BackendError,
    FieldIn,
    Lookup,
    Record,
    RecordRefusal,
    StreamRow,
    WriteBatch,
    WriteOptions,
    WriteOutcome,
    hard_delete_per_object,
    write_per_object,
)
from core.record_types import RecordTypeInfo, record_types_from_layouts
from core.salesforce_answers import may_be_a_lost_race, read, said
from core.steps import StepClock
from core.write_guard import Guard, refusals
from core.write_headers import headers_for
from core.write_paths import BULK, BULK_JOB_CALLS, STREAMED, PathChoice, bulk_batches

COLLECTION_LIMIT = 200
MAX_PARALLEL_JOBS = 5  # hardDelete jobs of one Erase running at once (one per object)
_MAX_PAGES = 100_000
# What a record already gone means.
_GONE = frozenset({Code.ENTITY_IS_DELETED, Code.NOT_FOUND})
_T = TypeVar("_T")
_R = TypeVar("_R")


def _strip_attributes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_attributes(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_strip_attributes(v) for v in value]
    return value


class SalesforceStore:
    """One org through one Apply or Validate; every method is batch-first and thread-safe."""

    def __init__(self, session: Session, describes: DescribeCache, identity: Any, max_in_flight: int = 10,
                 max_url_bytes: int = soql.DEFAULT_MAX_URL_BYTES, batch_size: int = COLLECTION_LIMIT,
                 bulk: BulkSettings | None = None, use_composite: bool = True,
                 chunk_sizes: ChunkSizes | None = None, routing: WriteRouting | None = None,
                 tracker: BulkTracker | None = None):
        self._session, self._describes, self._identity = session, describes, identity
        self._composite = use_composite
        self._bulk = bulk or BulkSettings()
        self._tracker = tracker  # the shared register of running Bulk API jobs (None: none kept)
        self._guard: Guard | None = None  # core.write_guard: which events' writes may still go out
        self._max_in_flight = max(1, max_in_flight)
        self._max_url_bytes = min(max_url_bytes, soql.URI_LIMIT_BYTES)
        self._batch = max(1, min(batch_size, COLLECTION_LIMIT))
        self._chunk_sizes = chunk_sizes or ChunkSizes(self._batch)
        self._router = WriteRouter(session, routing or WriteRouting(), self._bulk, self._composite, self._chunk_sizes)

    @property
    def api_calls(self) -> int:
        return self._session.calls

    @property
    def describe_calls(self) -> int:
        return self._session.describe_calls

    @property
    def api_usage(self) -> ApiUsage | None:
        return self._session.usage

    @property
    def rotated_refresh_token(self) -> str:
        return self._session.rotated_refresh_token()

    @property
    def write_path(self) -> str:
        return self._router.taken

    @property
    def api_budget_left(self) -> int | None:
        if self._session.budget.needs_limits():
            self._session.learn_limits()
        return self._session.budget.left()

    # Describe ------------------------------------------------------------------------------------
    def describe(self, object_name: str) -> ObjectDescribe:
        soql.check_name(object_name, "object")
        cached = self._describes.get(self._identity, object_name)
        return cached if cached is not None else self._fetch_describe(object_name)

    def _fetch_describe(self, object_name: str) -> ObjectDescribe:
        url = f"{self._session.data_url}/sobjects/{object_name}/describe"
        try:
            _, body = self._session.json("GET", url)
        except BackendError as exc:
            if exc.error.code == Code.NOT_FOUND:
                raise BackendError(outcomes.error(Code.NOT_FOUND, f"the org has no object {object_name}, or this user "
                                               "cannot see it", paths=(ACTION.field("object"),))) from None
            raise
        if not isinstance(body, dict) or not body.get("name"):
            raise BackendError(outcomes.error(Code.UNKNOWN_EXCEPTION, f"Salesforce sent an unreadable describe of "
                                           f"{object_name}"))
        describe = describe_from_rest(body)
        self._describes.put(self._identity, object_name, describe)
        return describe

    def set_write_options(self, options: WriteOptions) -> None:
        self._session.write_headers = headers_for(options)

    def record_types(self, object_name: str) -> tuple[RecordTypeInfo, ...]:
        """One describe-layouts call per org and object, cached with the describes (same TTL)."""
        soql.check_name(object_name, "object")
        key = f"{object_name}/describe/layouts"
        cached: Any = self._describes.get(self._identity, key)
        if cached is not None:
            return cached
        _, body = self._session.json("GET", f"{self._session.data_url}/sobjects/{object_name}/describe/layouts/")
        if not isinstance(body, dict):
            raise BackendError(outcomes.error(Code.UNKNOWN_EXCEPTION, f"Salesforce sent unreadable record types of "
                                           f"{object_name}"))
        infos = record_types_from_layouts(body)
        self._describes.put(self._identity, key, infos)  # type: ignore[arg-type]
        return infos

    # Find ----------------------------------------------------------------------------------------
    def find(self, lookup: Lookup) -> list[Record]:
        names = _checked_names(lookup)
        describe = self.describe(lookup.object_name)
        try:
            return self._run_lookup(lookup, describe)
        except BackendError as exc:
            if exc.error.code != Code.INVALID_FIELD:
                raise
        # The cached describe may be stale: refresh it once, then retry with what the org has now.
        self._describes.drop(self._identity, lookup.object_name)
        describe = self._fetch_describe(lookup.object_name)
        missing = tuple(dict.fromkeys(n for n in names if describe.field(n) is None))
        if missing:
            raise BackendError(outcomes.error(Code.INVALID_FIELD, f"{lookup.object_name} has no field "
                                           f"{', '.join(missing)} (or this user cannot see it)", missing))
        return self._run_lookup(lookup, describe)

    def find_many(self, lookups: Sequence[Lookup]) -> list[list[Record]]:
        """Several lookups at once: with Composite, all their queries go five to a call."""
        if len(lookups) <= 1 or not self._composite:
            return [self.find(lookup) for lookup in lookups]
        for lookup in lookups:
            _checked_names(lookup)
        describes = [self.describe(lookup.object_name) for lookup in lookups]
        try:
            return self._run_lookups(lookups, describes)
        except BackendError as exc:
            if exc.error.code != Code.INVALID_FIELD:
                raise
        return [self.find(lookup) for lookup in lookups]  # each refreshes a stale describe once

    @contextmanager
    def reserve(self, object_name: str, lookups: Sequence[Lookup], records: int, kinds: int = 1, jobs: int = 0
                ) -> Iterator[ResultError | None]:
        if not self._session.budget.active:
            yield None
            return
        calls = (self._lookup_calls(lookups) + self._router.most_calls(object_name, records, kinds)
                 + jobs * BULK_JOB_CALLS)
        with self._session.budget.prepaid(calls) as refusal:
            yield refusal

    def _lookup_calls(self, lookups: Sequence[Lookup]) -> int:
        """The calls these lookups' first pages take: their queries (split for the URI limit), five to a
        Composite call."""
        prefix = f"{self._session.data_url}/query?q="
        queries = 0
        for lookup in lookups:
            try:
                _checked_names(lookup)
                queries += len(soql.lookup_queries(lookup, self.describe(lookup.object_name), prefix,
                                                   self._max_url_bytes))
            except BackendError:
                queries += 1
        if self._composite and queries > 1:
            return math.ceil(queries / composite.MAX_COLLECTIONS_OR_QUERIES)
        return queries

    def delete_anywhere(self, ids: Sequence[str]) -> list[WriteOutcome]:
        """Collections delete takes ids of several objects at once (no Bulk job: one job is one object)."""
        return self._write("record", [WriteBatch("delete", ids)], bulk=False)[0]

    def hard_delete(self, object_name: str, ids: Sequence[str]) -> list[WriteOutcome]:
        """One Bulk API 2.0 hardDelete job whatever the count (collections cannot empty the recycle bin)."""
        soql.check_name(object_name, "object")
        p = write_plan.plan(self._session.data_url, object_name, "delete", ids)
        rows = [n for n, item in enumerate(p.items) if not isinstance(item, WriteOutcome)]
        results: list[Any] = list(p.items)
        if not rows:
            return results
        with self._session.budget.prepaid(BULK_JOB_CALLS) as refusal:
            if refusal is not None:
                done: list[Any] = [WriteOutcome(False, error=refusal)] * len(rows)
            else:
                job = BulkJob(self._session, self._bulk, object_name, "hardDelete")
                done = job.run([{"Id": p.items[n]} for n in rows])
        refused = [d.error for d in done if isinstance(d, WriteOutcome) and d.error is not None
                   and d.error.code == NOT_PERMITTED]
        if len(refused) == len(done):  # the job itself was refused (or failed) for want of the permission
            raise BackendError(self._session.scrub(refused[0]))
        for n, item in zip(rows, done, strict=True):
            results[n] = item if isinstance(item, WriteOutcome) else _outcome(item, "delete")
        return [self._scrubbed(r) for r in results]

    def hard_delete_many(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> list[list[WriteOutcome] | ResultError]:
        """Up to MAX_PARALLEL_JOBS jobs at once (each request of each job still takes one of the org's slots)."""
        return hard_delete_per_object(jobs, self.hard_delete,
                                      lambda items, fn: self._parallel(items, fn, MAX_PARALLEL_JOBS))

    def merged_into(self, object_name: str, ids: Sequence[str]) -> dict[str, str]:
        """queryAll reads the recycle bin, where merged-away records keep their MasterRecordId."""
        soql.check_name(object_name, "object")
        valid = tuple(dict.fromkeys(c for i in ids if isinstance(i, str) and (c := normalize_id(i))))
        if not valid:
            return {}
        lookup = Lookup(object_name, ("Id", "MasterRecordId"), ((FieldIn("Id", valid),),), include_deleted=True)
        records = self._run_lookup(lookup, self.describe(object_name))
        masters = {str(r["Id"]): str(r["MasterRecordId"]) for r in records if r.get("MasterRecordId")}
        found = {}
        for i in ids:
            canonical = normalize_id(i) if isinstance(i, str) else None
            if canonical in masters:
                found[i] = masters[canonical]
        return found

    def _run_lookup(self, lookup: Lookup, describe: ObjectDescribe) -> list[Record]:
        return self._run_lookups([lookup], [describe])[0]

    def _run_lookups(self, lookups: Sequence[Lookup], describes: Sequence[ObjectDescribe]) -> list[list[Record]]:
        """Each lookup's records (split into as few queries as the URI limit allows, queryAll for one that includes
        deleted records), every query at once."""
        owners: list[int] = []
        urls: list[str] = []
        for n, (lookup, describe) in enumerate(zip(lookups, describes, strict=True)):
            prefix = f"{self._session.data_url}/{'queryAll' if lookup.include_deleted else 'query'}?q="
            for q in soql.lookup_queries(lookup, describe, prefix, self._max_url_bytes):
                owners.append(n)
                urls.append(soql.query_url(prefix, q))
        pages = (self._composite_queries(urls) if self._composite and len(urls) > 1
                 else self._parallel(urls, self._query_all))
        found: list[dict[str, Record]] = [{} for _ in lookups]
        anonymous: list[list[Record]] = [[] for _ in lookups]
        for owner, records in zip(owners, pages, strict=True):
            for record in records:
                rid = record.get("Id") if isinstance(record, dict) else None
                if isinstance(rid, str):
                    found[owner].setdefault(rid, record)
                else:
                    anonymous[owner].append(record)
        return [[*f.values(), *a] for f, a in zip(found, anonymous, strict=True)]

    def _page(self, body: Any, into: list[Record], seen: set[str]) -> str | None:
        """Add a query result page's records; the URL of the next page, if any."""
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise BackendError(outcomes.error(Code.UNKNOWN_EXCEPTION, "Salesforce sent an unreadable query result"))
        into.extend(_strip_attributes(r) for r in body["records"] if isinstance(r, dict))
        next_path = body.get("nextRecordsUrl")
        if body.get("done", True) is not False or not next_path:
            return None
        url = self._session.follow(next_path)
        if url in seen:
            raise BackendError(outcomes.error(Code.UNKNOWN_EXCEPTION, "Salesforce sent the same next-page URL twice"))
        seen.add(url)
        return url

    def _query_all(self, url: str) -> list[Record]:
        records: list[Record] = []
        seen = {url}
        for _ in range(_MAX_PAGES):
            _, body = self._session.json("GET", url)
            next_url = self._page(body, records, seen)
            if next_url is None:
                return records
            url = next_url
        raise BackendError(outcomes.error(Code.UNKNOWN_EXCEPTION, "a query returned too many pages"))

    def _composite_queries(self, urls: list[str]) -> list[list[Record]]:
        """Every query and its next pages, five queries to a Composite call."""
        records: list[list[Record]] = [[] for _ in urls]
        seen: set[str] = set(urls)
        pending = list(enumerate(urls))
        per_call = composite.MAX_COLLECTIONS_OR_QUERIES
        for _ in range(_MAX_PAGES):
            if not pending:
                return records
            groups = [pending[i:i + per_call] for i in range(0, len(pending), per_call)]
            answers = self._parallel(groups, lambda g: composite.send(
                self._session, [composite.Sub("GET", url) for _, url in g], True))
            pending = []
            for group, got in zip(groups, answers, strict=True):
                for (i, _), (status, body) in zip(group, got, strict=True):
                    if not 200 <= status < 300:
                        raise BackendError(self._session.scrub(said(refusal_of(status, body))))
                    next_url = self._page(body, records[i], seen)
                    if next_url is not None:
                        pending.append((i, next_url))
        raise BackendError(outcomes.error(Code.UNKNOWN_EXCEPTION, "a query returned too many pages"))

    # Writes --------------------------------------------------------------------------------------
    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("create", records)])[0]

    def update(self, object_name: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("update", records)])[0]

    def upsert(self, object_name: str, external_id_field: str, records: Sequence[Mapping[str, Any]]
               ) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("upsert", records, external_id_field)])[0]

    def delete(self, object_name: str, ids: Sequence[str]) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("delete", ids)])[0]

    def write(self, object_name: str, batches: Sequence[WriteBatch]) -> list[list[WriteOutcome]]:
        """Every kind of write at once: a Bulk API job for a kind from the bulk threshold on; the rest in
        collection-sized chunks, five to a Composite call (or one call each), concurrently."""
        soql.check_name(object_name, "object")
        for b in batches:
            if b.kind == "upsert":
                soql.check_name(b.external_id_field)
        return self._write(object_name, batches)

    def guard_writes(self, guard: Guard) -> None:
        self._guard = guard

    def write_batches(self, batches: Sequence[WriteBatch]) -> list[list[WriteOutcome]]:
        """Each object's batches as `write` sends them; several objects at once, up to max_in_flight (every
        request still takes one of the org's slots, and checks the call's stop and deadline first)."""
        return write_per_object(batches, self.write, self._parallel)

    def _write(self, object_name: str, batches: Sequence[WriteBatch], bulk: bool = True) -> list[list[WriteOutcome]]:
        plans = [write_plan.plan(self._session.data_url, object_name, b.kind, b.items, b.external_id_field)
                 for b in batches]
        for p, b in zip(plans, batches, strict=True):
            p.tags = b.tags
        results: list[list[WriteOutcome | None]] = [[i if isinstance(i, WriteOutcome) else None for i in p.items]
                                                    for p in plans]
        pending: list[tuple[int, int]] = []
        # One attempt budget per row, across every request that carries it (the transport's retries
        # included): rows sent together share the budget of the request that carried them.
        tries: dict[tuple[int, int], Attempts] = {}
        rest_choices: list[PathChoice] = []
        for k, p in enumerate(plans):
            open_rows = [n for n, i in enumerate(p.items) if not isinstance(i, WriteOutcome)]
            # A CSV cell cannot say the literal text #N/A (Bulk reads it as null): such records go as JSON.
            csv_rows = [n for n in open_rows if not holds_hash_na(p.items[n])]
            # Bulk API 2.0 takes no duplicate-rule or assignment header: with write options, collections only.
            rest_only = not bulk or bool(self._session.write_headers) or not self._bulk.time_left(self._session)
            choice = self._router.choose(len(csv_rows), object_name, rest_only) if csv_rows else None
            if choice is not None and choice.path == BULK:
                with self._session.budget.prepaid(choice.calls) as refusal:
                    if refusal is None:  # a job the budget refused took no path
                        self._router.took(choice)
                        self._router.charge(choice)
                    done = ([WriteOutcome(False, error=refusal)] * len(csv_rows) if refusal
                            else self._send_bulk(p, [p.items[n] for n in csv_rows],
                                                 [batches[k].tags[n] for n in csv_rows] if batches[k].tags else None))
                for n, outcome in zip(csv_rows, done, strict=True):
                    results[k][n] = outcome
                    tries[(k, n)] = self._attempts(used=1)  # the job was their first attempt
                csv_set = set(csv_rows)
                open_rows = [n for n in open_rows if n not in csv_set]
            elif choice is not None:
                rest_choices.append(choice)
            pending += [(k, n) for n in open_rows]
        if pending:  # records that cannot go as CSV (#N/A) take the REST path too
            for choice in rest_choices or [self._router.rest()]:
                self._router.took(choice)
        tries.update((row, self._attempts()) for row in pending)
        transient: set[tuple[int, int]] = set()  # rows of an idempotent subrequest refused whole, transiently
        # Every call of the first sending is reserved before any is sent: past the budget, none is.
        per_call = composite.MAX_COLLECTIONS_OR_QUERIES if self._composite else 1
        size = self._chunk_sizes.of(self._session.base_url, object_name).next()[0]
        chunks = sum(math.ceil(sum(1 for kk, _ in pending if kk == k) / size) for k in range(len(plans)))
        with self._session.budget.prepaid(math.ceil(chunks / per_call)) as refusal:
            if refusal is not None:
                for k, n in pending:
                    results[k][n] = WriteOutcome(False, error=refusal)
            else:
                self._send_sized(object_name, plans, results, pending, tries, transient)
        size = self._chunk_sizes.of(self._session.base_url, object_name).next()[0]
        # Rows refused for a row lock were not written: resend only those, at least lock_base_delay apart;
        # so are rows whose subrequest Salesforce could not serve this time (as the transport retries a call).
        policy, timing, deadline = self._session.policy, self._session.timing, self._session.deadline
        while True:
            failed = [(k, n, error) for k, n, error in _failed(results) if (k, n) in tries and tries[(k, n)].left > 0]
            locked = [(k, n) for k, n, error in failed if is_lock_error(error)]
            again = locked + [(k, n) for k, n, _ in failed if (k, n) in transient and (k, n) not in locked]
            used = max((tries[r].used for r in again), default=0)
            if not again or not (timing.lock_backoff(used, deadline, policy) if locked else
                                 timing.backoff(used, deadline, policy.base_delay, policy.max_delay)):
                break
            for k, n, error in failed:
                if (k, n) in again:
                    self._session.telemetry.salesforce_retry("write", error.code)
            self._send_rows(plans, results, again, tries, transient, size)
        # Two writers upserting one new key at once: the loser gets DUPLICATE_VALUE on the key (named in
        # the message, "fields": []), and sending it again (upserts are idempotent) updates the record
        # the winner created.
        raced = [(k, n) for k, n, error in _failed(results) if plans[k].op == "upsert"
                 and may_be_a_lost_race(error, plans[k].external_id_field)]
        if raced:
            self._session.telemetry.salesforce_retry("upsert", Code.DUPLICATE_VALUE)
            self._send_rows(plans, results, raced, {row: self._attempts() for row in raced}, set(), size)
        flat = [r for rows in results for r in rows]
        if any(r is not None and r.said is not None and r.said.code == Code.INVALID_FIELD for r in flat):
            self._describes.drop(self._identity, object_name)  # the org changed: describe afresh next time
        return [[self._scrubbed(r) if r is not None else write_plan.fail(Code.UNKNOWN_EXCEPTION, "no result")
                 for r in rows] for rows in results]

    def _send_rows(self, plans: list[write_plan.Plan], results: list[list[WriteOutcome | None]],
                   rows: list[tuple[int, int]], tries: dict[tuple[int, int], Attempts],
                   transient: set[tuple[int, int]], size: int = 0) -> None:
        """Send these rows (plan, position) in collection-sized chunks of one kind (at most `size` records),
        five chunks to a Composite call (or one a call); store each outcome, and the attempt budget that
        carried it."""
        size = size or self._batch
        chunks: list[tuple[int, list[int]]] = []
        for k in range(len(plans)):
            mine = [n for kk, n in rows if kk == k]
            chunks += [(k, mine[i:i + size]) for i in range(0, len(mine), size)]
        self._send_chunked(plans, results, chunks, tries, transient)

    def _send_sized(self, object_name: str, plans: list[write_plan.Plan], results: list[list[WriteOutcome | None]],
                    rows: list[tuple[int, int]], tries: dict[tuple[int, int], Attempts],
                    transient: set[tuple[int, int]]) -> None:
        """`_send_rows` in chunks the org's triggers let through (see chunking): chunks refused on a governor
        limit are split and only their refused rows resent."""
        def send_many(chunks: list[list[tuple[int, int]]]) -> list[list[WriteOutcome]]:
            self._send_chunked(plans, results, [(c[0][0], [n for _, n in c]) for c in chunks], tries, transient)
            return [[results[k][n] or write_plan.fail(Code.UNKNOWN_EXCEPTION, "no result") for k, n in c]
                    for c in chunks]

        per_call = composite.MAX_COLLECTIONS_OR_QUERIES if self._composite else 1
        send_sized(rows, send_many, self._chunk_sizes.of(self._session.base_url, object_name),
                   self._max_in_flight * per_call, group=lambda row: row[0])

    def _send_chunked(self, plans: list[write_plan.Plan], results: list[list[WriteOutcome | None]],
                      chunks: list[tuple[int, list[int]]], tries: dict[tuple[int, int], Attempts],
                      transient: set[tuple[int, int]]) -> None:
        if not chunks:
            return

        def outcomes(k: int, positions: list[int], status: int, body: Any, attempts: Attempts) -> list[WriteOutcome]:
            p = plans[k]
            if not 200 <= status < 300:
                error = composite.sub_error(status, body, p.idempotent)
                if p.idempotent and is_transient(status, error):
                    transient.update((k, n) for n in positions)
                return [write_plan.refused(error)] * len(positions)
            got = self._outcomes(body, len(positions), p.op, p.idempotent)
            if p.op != "delete" or not attempts.maybe_delivered:
                return got
            # An earlier attempt of this delete may have been applied before its answer was lost: a record
            # now gone was deleted by this call.
            return [WriteOutcome(True, id=p.items[n]) if _gone(o, p.object_name) else o
                    for n, o in zip(positions, got, strict=True)]

        def send(group: list[tuple[int, list[int]]]) -> list[list[WriteOutcome]]:
            """One call, which goes out only if its records' events are still this attempt's (core.write_guard:
            asked once the call holds its connection slots, right before it is sent)."""
            tags = [plans[k].tags[n] for k, positions in group for n in positions if plans[k].tags]
            if self._guard is None or not tags:
                return send_now(group)

            def gate() -> None:
                refused = next((r for r in refusals(self._guard, tags) if r is not None), None)
                if refused is not None and refused.error is not None:
                    raise BackendError(refused.error)

            with self._session.gated(gate):
                return send_now(group)

        def send_now(group: list[tuple[int, list[int]]]) -> list[list[WriteOutcome]]:
            carried = [tries[(k, n)] for k, positions in group for n in positions]
            transient.difference_update((k, n) for k, positions in group for n in positions)
            attempts = self._attempts(used=max(a.used for a in carried))
            attempts.maybe_delivered = any(a.maybe_delivered for a in carried)
            for k, positions in group:
                tries.update(((k, n), attempts) for n in positions)
            # a write's headers (duplicate rule, assignment) go with each write it carries
            subs = [replace(plans[k].sub([plans[k].items[n] for n in positions]),
                            headers=self._session.write_headers or None) for k, positions in group]
            idempotent = all(plans[k].idempotent for k, _ in group)
            try:
                if self._composite:
                    answers = composite.send(self._session, subs, idempotent, attempts)
                else:
                    # a direct call's answer is read as it comes (2xx, or 300 from an upsert), never as a status
                    answers = [(200, self._session.json(s.method, s.url, s.body, idempotent, attempts)[1])
                               for s in subs]
            except BackendError as exc:
                return [[WriteOutcome(False, error=exc.error)] * len(positions) for _, positions in group]
            return [outcomes(k, positions, status, body, attempts)
                    for (k, positions), (status, body) in zip(group, answers, strict=True)]

        per_call = composite.MAX_COLLECTIONS_OR_QUERIES if self._composite else 1
        groups = [chunks[i:i + per_call] for i in range(0, len(chunks), per_call)]
        for group, answers in zip(groups, self._parallel(groups, send), strict=True):
            for (k, positions), got in zip(group, answers, strict=True):
                for n, outcome in zip(positions, got, strict=True):
                    results[k][n] = outcome

    def _attempts(self, used: int = 0) -> Attempts:
        return Attempts(self._session.policy.max_attempts, used)

    def _scrubbed(self, outcome: WriteOutcome) -> WriteOutcome:
        if outcome.refusal is not None:
            refusal = self._session.scrub(outcome.refusal)
            outcome = outcome if refusal is outcome.refusal else replace(outcome, refusal=refusal)
        if outcome.error is not None:
            error = self._session.scrub(outcome.error)
            outcome = outcome if error is outcome.error else replace(outcome, error=error)
        return outcome

    def upsert_stream(self, object_name: str, external_id_field: str, rows: Iterator[StreamRow | None],
                      clock: StepClock) -> Iterator[tuple[int, WriteOutcome, Record]] | None:
        """Streamed Bulk API 2.0 upserts (adapters.salesforce.bulk_stream); None when Bulk is not wanted (off,
        a REST path forced by the operator, too little time left, or write options that only collections send)."""
        soql.check_name(object_name, "object")
        soql.check_name(external_id_field)
        if (self._session.write_headers or self._bulk.threshold == 0 or not self._router.bulk_allowed
                or not self._bulk.time_left(self._session)):
            return None
        try:  # result rows echo keys as stored: tying them back compares them by field type
            describe: ObjectDescribe | None = self.describe(object_name)
        except BackendError:
            describe = None

        def outcome_of(item: Any) -> WriteOutcome:
            return self._scrubbed(item if isinstance(item, WriteOutcome)
                                  else _outcome(item, "upsert"))

        def write_aside(records: list[Mapping[str, Any]]) -> list[WriteOutcome]:
            return self._write(object_name, [WriteBatch("upsert", records, external_id_field)], bulk=False)[0]

        def closing(records: int) -> None:  # the org charges the job's batches as Apply's jobs
            self._router.charge(PathChoice(BULK, STREAMED, BULK_JOB_CALLS, bulk_batches(records)))

        return self._streamed(BulkStream(self._session, self._bulk, object_name, external_id_field, describe, clock,
                                         outcome_of, write_aside, closing).run(rows))

    def _streamed(self, outcomes: Iterator[_T]) -> Iterator[_T]:
        """The stream's outcomes; once one comes, the write path says bulk (write_path)."""
        taken = False
        for outcome in outcomes:
            if not taken:
                taken = True
                self._router.took(PathChoice(BULK, STREAMED, BULK_JOB_CALLS, 0))
            yield outcome

    def _send_bulk(self, p: write_plan.Plan, payloads: list[Any], tags: list[tuple[str, ...]] | None = None
                   ) -> list[WriteOutcome]:
        """One Bulk API 2.0 job; its rows' results mapped exactly as collection results are."""
        refused = refusals(self._guard, tags) if tags else [None] * len(payloads)
        kept = [n for n, r in enumerate(refused) if r is None]
        if not kept:
            return [r for r in refused if r is not None]
        rows = [bulk_row(payloads[n]) for n in kept]
        job = BulkJob(self._session, self._bulk, p.object_name, p.op, p.external_id_field,
                      self._describe_or_none(p.object_name), self._tracker)
        done = iter(self._bulk_outcomes(job.run(rows, [tags[n] for n in kept] if tags else None), p.op))
        return [r if r is not None else next(done) for r in refused]

    def resume_bulk(self, job_key: str) -> list[tuple[tuple[str, ...], str, WriteOutcome]]:
        """Pick up a registered Bulk API job (BulkJob.resume): for each of its rows, the event keys it holds,
        the kind of write and its outcome; [] when the job is no longer registered."""
        plan = self._tracker.load(job_key) if self._tracker is not None else None
        if plan is None:
            return []
        job = BulkJob(self._session, self._bulk, plan.object_name, plan.op, plan.external_id_field,
                      self._describe_or_none(plan.object_name), self._tracker)
        outcomes = self._bulk_outcomes(job.resume(plan), plan.op)
        return [(tags, plan.op, outcome) for tags, outcome in zip(plan.tags, outcomes, strict=True)]

    @property
    def delivered_bulk_jobs(self) -> tuple[str, ...]:
        return tuple(self._tracker.delivered) if self._tracker is not None else ()

    def _describe_or_none(self, object_name: str) -> ObjectDescribe | None:
        try:  # result rows echo values as stored: tying them back compares cells by field type
            return self.describe(object_name)
        except BackendError:
            return None

    @staticmethod
    def _bulk_outcomes(items: Sequence[Any], op: str) -> list[WriteOutcome]:
        return [i if isinstance(i, WriteOutcome) else _outcome(i, op) for i in items]

    @staticmethod
    def _outcomes(body: Any, count: int, op: str, idempotent: bool) -> list[WriteOutcome]:
        if not isinstance(body, list) or len(body) != count:
            code = Code.UNKNOWN_EXCEPTION if idempotent else Code.OUTCOME_UNKNOWN
            return [write_plan.fail(code, f"Salesforce answered the {op} with an unreadable result; it may or may "
                                    "not have written these records")] * count
        return [_outcome(item, op) for item in body]

    def _parallel(self, items: Sequence[_T], fn: Callable[[_T], _R], limit: int = 0) -> list[_R]:
        """`fn` over items, up to max_in_flight (or `limit`, if lower) at once, results in order."""
        workers = min(len(items), self._max_in_flight, limit or self._max_in_flight)
        if workers <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=workers,
                                thread_name_prefix="sfdest-sf") as pool:
            return list(pool.map(fn, items))


def _outcome(item: Any, op: str) -> WriteOutcome:
    """One collection result element (`{id, success, errors[{statusCode, message, fields}], created}`), as
    Salesforce said it (core reads what a refusal means)."""
    if not isinstance(item, dict):
        return write_plan.fail(Code.UNKNOWN_EXCEPTION, "Salesforce sent an unreadable result for this record")
    record_id = str(item.get("id") or "")
    if item.get("success") is True:
        return WriteOutcome(True, id=record_id, created=bool(item.get("created", op == "create")))
    errors = item.get("errors")
    refusal = merge_errors(errors if isinstance(errors, list) else [], "statusCode") or RecordRefusal(
        Code.UNKNOWN_EXCEPTION, "Salesforce reported a failure without details")
    return WriteOutcome(False, id=record_id, refusal=refusal,
                        matched_ids=duplicate_ids(errors) if isinstance(errors, list) else ())


def _gone(outcome: WriteOutcome, object_name: str) -> bool:
    """A delete refused because the record is not there (any more)."""
    error = read(outcome, "delete", object_name).error
    return not outcome.success and error is not None and error.code in _GONE


def _failed(results: list[list[WriteOutcome | None]]) -> list[tuple[int, int, RecordRefusal | ResultError]]:
    """(plan, position, what was said) of every refused row."""
    return [(k, n, r.said) for k, rows in enumerate(results) for n, r in enumerate(rows)
            if r is not None and not r.success and r.said is not None]


def _checked_names(lookup: Lookup) -> list[str]:
    """The lookup's field names, each checked to be a plain API name (never sent otherwise)."""
    soql.check_name(lookup.object_name, "object")
    names = [*lookup.select, *(t.field for c in lookup.where for t in c)]
    for name in names:
        soql.check_name(name)
    return names
