"""The in-memory RecordStore and its factory: one Org per instance URL, API calls counted as Salesforce does."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar
from urllib.parse import urlsplit

from adapters.memory.org import Org
from adapters.memory.results import HARD_DELETE_REFUSED, OrgError, SaveResult
from core import outcomes
from core.codes import Code
from core.describe import ObjectDescribe
from core.model import ApiUsage, Connection, ResultError
from core.parents import rest_fields
from core.paths import CONNECTION
from core.ports import (
    BackendError,
    Lookup,
    Record,
    RecordRefusal,
    WriteBatch,
    WriteOptions,
    WriteOutcome,
    hard_delete_per_object,
    write_per_object,
)
from core.record_types import RecordTypeInfo
from core.salesforce_answers import said
from core.telemetry import NullTelemetry, Telemetry, org_label
from core.write_guard import Guard, guarded
from core.write_headers import AUTO_ASSIGN_HEADER, DUPLICATE_RULE_HEADER, headers_for

COLLECTION_SIZE = 200  # records per sObject Collections call
QUERY_PAGE_SIZE = 2000  # records per query page; each further page is another call
DEFAULT_DESCRIBE_TTL = 15 * 60.0
DEFAULT_DAILY_LIMIT = 100_000
DEFAULT_MAX_ORGS = 16  # orgs kept; past it the least recently used one is forgotten
DEFAULT_MAX_RECORDS_PER_ORG = 50_000
_DAY = 24 * 3600.0

_T = TypeVar("_T")


def tenant_key(instance_url: str) -> str:
    """The tenant an instance URL names: scheme and host lower-cased, no trailing slash."""
    text = (instance_url or "").strip()
    if not text:
        raise BackendError(outcomes.error(Code.INVALID_CONNECTION, "connection.instance_url is required",
                                       paths=(CONNECTION.field("instance_url"),)))
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        return text.lower().rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


class Tenant:
    """One org plus what the API around it keeps: the daily call counter, describe cache, planted call failures."""

    def __init__(self, org: Org, daily_limit: int, describe_ttl: float, clock: Callable[[], float]):
        self.org = org
        self.daily_limit = daily_limit
        self._ttl, self._clock = describe_ttl, clock
        self._lock = threading.Lock()
        self._used = 0
        self._window_start: float | None = None
        self._describes: dict[str, tuple[float, int, ObjectDescribe]] = {}
        self._call_faults: list[list[Any]] = []  # [error, remaining calls]

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    def spend_call(self) -> None:
        """Count one API call, or raise BackendError for a planted failure or a spent daily allocation."""
        with self._lock:
            now = self._clock()
            if self._window_start is None or now - self._window_start >= _DAY:
                # A fixed 24-hour window from the first call: close enough to Salesforce's rolling one.
                self._window_start, self._used = now, 0
            if self._call_faults:
                fault = self._call_faults[0]
                fault[1] -= 1
                if fault[1] <= 0:
                    self._call_faults.pop(0)
                raise BackendError(fault[0])
            if self._used >= self.daily_limit:
                raise BackendError(said(RecordRefusal("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.",
                                                      status=403)))
            self._used += 1

    def fail_calls(self, error: ResultError, times: int = 1) -> None:
        """The next `times` API calls fail as a whole with `error` (e.g. SERVER_UNAVAILABLE)."""
        with self._lock:
            self._call_faults.append([error, times])

    def cached_describe(self, object_name: str) -> Any:
        with self._lock:
            entry = self._describes.get(object_name.lower())
            if entry is None:
                return None
            expires, version, describe = entry
            if self._clock() >= expires or version != self.org.schema_version:
                del self._describes[object_name.lower()]
                return None
            return describe

    def remember_describe(self, object_name: str, describe: Any) -> None:
        with self._lock:
            self._describes[object_name.lower()] = (self._clock() + self._ttl, self.org.schema_version, describe)


CHUNKS_PER_CALL = 5  # collections per Composite call


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _outcome(result: SaveResult) -> WriteOutcome:
    """The org's answer for one record as the port reports it: what the org said; core reads what it means."""
    if result.success:
        return WriteOutcome(True, result.id, result.created)
    answer = result.error or RecordRefusal("UNKNOWN_EXCEPTION", "the org refused the record without a reason")
    return WriteOutcome(False, id=result.id, refusal=RecordRefusal(answer.code, answer.message, tuple(answer.fields)),
                        matched_ids=result.matched_ids or result.duplicates)


class MemoryStore:
    """A RecordStore over one in-memory org, for one Apply or Validate call."""

    def __init__(self, tenant: Tenant, deadline: float | None = None, telemetry: Telemetry | None = None,
                 org: str = "unknown", stop: Callable[[], bool] | None = None):
        self._tenant, self._org, self._deadline, self._stop = tenant, tenant.org, deadline, stop
        self._telemetry, self._org_label = telemetry or NullTelemetry(), org
        self._lock = threading.Lock()
        self._calls = 0
        self._headers: dict[str, str] = {}  # the action's write options, as Salesforce's headers
        self._guard: Guard | None = None  # core.write_guard: which events' writes may still go out
        self._describes = 0

    def resume_bulk(self, job_key: str) -> list[tuple[tuple[str, ...], str, WriteOutcome]]:
        return []  # the memory org runs no Bulk API job

    @property
    def delivered_bulk_jobs(self) -> tuple[str, ...]:
        return ()

    @property
    def api_calls(self) -> int:
        return self._calls

    @property
    def rotated_refresh_token(self) -> str:
        return ""  # no Salesforce, no token

    @property
    def describe_calls(self) -> int:
        return self._describes

    @property
    def api_usage(self) -> ApiUsage | None:
        # Like the Sforce-Limit-Info header: known once this store has made a call.
        return ApiUsage(self._tenant.used, self._tenant.daily_limit) if self._calls else None

    def reserve(self, object_name: str, lookups: Sequence[Lookup], records: int, kinds: int = 1, jobs: int = 0
                ) -> AbstractContextManager[ResultError | None]:
        return nullcontext(None)  # no API budget governor in front of an in-memory org

    @property
    def write_path(self) -> str:
        return ""  # an in-memory org: no Salesforce path

    @property
    def api_budget_left(self) -> int | None:
        return None  # no API budget governor in front of an in-memory org

    def describe(self, object_name: str) -> ObjectDescribe:
        cached = self._tenant.cached_describe(object_name)
        if cached is not None:
            return cached
        self._call("describe")
        self._describes += 1
        try:
            describe = self._org.describe(object_name)
        except OrgError as exc:
            raise BackendError(said(exc.refusal)) from None
        self._tenant.remember_describe(object_name, describe)
        return describe

    def set_write_options(self, options: WriteOptions) -> None:
        self._headers = headers_for(options)

    def record_types(self, object_name: str) -> tuple[RecordTypeInfo, ...]:
        """One describe-layouts call per org and object, cached with the describes."""
        key = f"{object_name}/describe/layouts"
        cached = self._tenant.cached_describe(key)
        if cached is not None:
            return cached
        self._call("describe")
        try:
            infos = self._org.record_types(object_name)
        except OrgError as exc:
            raise BackendError(said(exc.refusal)) from None
        self._tenant.remember_describe(key, infos)
        return infos

    def find(self, lookup: Lookup) -> list[Record]:
        self._call("query")
        return self._found(lookup)

    def find_many(self, lookups: Sequence[Lookup]) -> list[list[Record]]:
        """Five lookups to a call, as Salesforce's Composite carries five queries."""
        for start in range(0, len(lookups), CHUNKS_PER_CALL):
            self._call("query" if len(lookups) - start == 1 else "composite")
        return [self._found(lookup) for lookup in lookups]

    def _found(self, lookup: Lookup) -> list[Record]:
        try:
            records: list[Record] = list(self._org.find(lookup))
        except OrgError as exc:
            raise BackendError(said(exc.refusal)) from None
        for _ in range(1, math.ceil(len(records) / QUERY_PAGE_SIZE)):
            self._call("query")  # queryMore for each further page
        return records

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("create", records)])[0]

    def update(self, object_name: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("update", records)])[0]

    def upsert(self, object_name: str, external_id_field: str,
               records: Sequence[Mapping[str, Any]]) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("upsert", records, external_id_field)])[0]

    def delete_anywhere(self, ids: Sequence[str]) -> list[WriteOutcome]:
        return self._write("", [WriteBatch("delete", ids)])[0]

    def hard_delete(self, object_name: str, ids: Sequence[str]) -> list[WriteOutcome]:
        """Counted as a Bulk API job costs: create, upload, close, one poll, then each result set that holds rows."""
        self._call("bulk")  # the job's creation, refused whole without the permission
        if not self._org.hard_delete_allowed:
            raise BackendError(said(RecordRefusal("FEATURENOTENABLED", HARD_DELETE_REFUSED, status=400)))
        for _ in range(3):
            self._call("bulk")
        try:
            done = [_outcome(self._org.hard_delete(object_name, rid)) for rid in ids]
        except OrgError as exc:
            raise BackendError(said(exc.refusal)) from None
        for _set in {o.success for o in done}:  # successfulResults, failedResults: those holding rows
            self._call("bulk")
        return done

    def hard_delete_many(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> list[list[WriteOutcome] | ResultError]:
        """One job after another."""
        return hard_delete_per_object(jobs, self.hard_delete)

    def merged_into(self, object_name: str, ids: Sequence[str]) -> dict[str, str]:
        self._call("query")  # queryAll
        try:
            return self._org.merged_into(object_name, ids)
        except OrgError as exc:
            raise BackendError(said(exc.refusal)) from None

    def delete(self, object_name: str, ids: Sequence[str]) -> list[WriteOutcome]:
        return self.write(object_name, [WriteBatch("delete", ids)])[0]

    def write(self, object_name: str, batches: Sequence[WriteBatch]) -> list[list[WriteOutcome]]:
        """Chunks of 200 records, five chunks to a call (as Salesforce's Composite carries five collections);
        a call that fails as a whole fails only its own records."""
        return guarded(self._guard, batches, lambda kept: self._write(object_name, kept))

    def guard_writes(self, guard: Guard) -> None:
        self._guard = guard

    def write_batches(self, batches: Sequence[WriteBatch]) -> list[list[WriteOutcome]]:
        """One object after another, each object's batches as `write` sends them."""
        return write_per_object(batches, self._write)

    def _delete(self, object_name: str, rid: str) -> SaveResult:
        """Delete one record; without an object, of whatever object the id names (collections delete)."""
        obj = object_name or self._org.object_of_id(rid)
        return self._org.delete(obj, rid) if obj else SaveResult(False, rid, errors=(
            RecordRefusal("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"),))

    def _write(self, object_name: str, batches: Sequence[WriteBatch]) -> list[list[WriteOutcome]]:
        org = self._org
        sends: dict[str, Callable[[WriteBatch, Sequence[Any]], list[SaveResult]]] = {
            "create": lambda b, chunk: [org.create(object_name, rest_fields(r)) for r in chunk],
            "update": lambda b, chunk: [org.update(object_name, rid, rest_fields(r)) for rid, r in chunk],
            "upsert": lambda b, chunk: org.upsert_many(object_name, b.external_id_field,
                                                       [rest_fields(r) for r in chunk]),
            "delete": lambda b, chunk: [self._delete(object_name, rid) for rid in chunk],
        }
        chunks = [(b, chunk) for b in batches for chunk in _chunks(b.items, COLLECTION_SIZE)]
        answers: dict[int, list[WriteOutcome]] = {id(b): [] for b in batches}
        for start in range(0, len(chunks), CHUNKS_PER_CALL):
            group = chunks[start:start + CHUNKS_PER_CALL]
            error = None
            try:
                self._call(group[0][0].kind if len(group) == 1 else "composite")
            except BackendError as exc:
                error = exc.error
            for b, chunk in group:
                try:
                    if error is not None:
                        raise BackendError(error)
                    with self._org.request_headers(self._headers.get(DUPLICATE_RULE_HEADER),
                                                   self._headers.get(AUTO_ASSIGN_HEADER)):
                        answers[id(b)].extend(_outcome(r) for r in sends[b.kind](b, chunk))
                except BackendError as exc:
                    answers[id(b)].extend([WriteOutcome(False, error=exc.error)] * len(chunk))
                except OrgError as exc:
                    answers[id(b)].extend([WriteOutcome(False, refusal=exc.refusal)] * len(chunk))
        return [answers[id(b)] for b in batches]

    def _call(self, kind: str) -> None:
        if self._stop is not None and self._stop():
            raise BackendError(outcomes.error(
                Code.CANCELLED, "the call was cancelled, or the server is stopping, before "
                "this Salesforce call was made; nothing was sent"))
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise BackendError(outcomes.error(Code.DEADLINE_EXCEEDED, "the call's deadline passed before this "
                                           "Salesforce call was made; nothing was sent"))
        self._telemetry.salesforce_call(kind)  # sent, whatever the answer: a refused call is still a call
        self._tenant.spend_call()
        with self._lock:
            self._calls += 1
        self._telemetry.api_usage(self._org_label, self._tenant.used, self._tenant.daily_limit)


class MemoryBackend:
    """The StoreFactory of in-memory orgs: one Org per tenant (instance URL), created on first use.

    Tenants never see each other's records. Describes are cached per tenant for `describe_ttl`
    seconds (a cached describe costs no call), as the Salesforce adapter caches them. `telemetry`
    hears of every call by kind (describe, query, create, update, upsert, delete) and the usage after it.
    Memory is bounded: at most `max_orgs` orgs are kept (the least recently used is forgotten) and each
    holds at most `max_records_per_org` records (creates past it fail per record).
    """

    def __init__(self, *, daily_limit: int = DEFAULT_DAILY_LIMIT, describe_ttl: float = DEFAULT_DESCRIBE_TTL,
                 clock: Callable[[], float] = time.monotonic,
                 catalog: Mapping[str, ObjectDescribe] | None = None, telemetry: Telemetry | None = None,
                 max_orgs: int = DEFAULT_MAX_ORGS, max_records_per_org: int = DEFAULT_MAX_RECORDS_PER_ORG,
                 org_factory: Callable[[], Org] | None = None):
        self._daily_limit, self._ttl, self._clock, self._catalog = daily_limit, describe_ttl, clock, catalog
        self._max_orgs, self._max_records = max_orgs, max_records_per_org
        self._new_org = org_factory or (lambda: Org(self._catalog, max_records=self._max_records))
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        self._lock = threading.Lock()
        self._tenants: OrderedDict[str, Tenant] = OrderedDict()  # least recently used first

    def open(self, connection: Connection, deadline: float | None = None,
             stop: Callable[[], bool] | None = None) -> MemoryStore:
        return MemoryStore(self.tenant(connection.instance_url), deadline, self.telemetry,
                           org_label(connection.instance_url), stop)

    def tenant(self, instance_url: str) -> Tenant:
        """The tenant of an instance URL (its org, usage counter and call faults), created on first use."""
        key = tenant_key(instance_url)
        with self._lock:
            tenant = self._tenants.get(key)
            if tenant is None:
                tenant = Tenant(self._new_org(), self._daily_limit, self._ttl, self._clock)
                self._tenants[key] = tenant
                while len(self._tenants) > self._max_orgs:
                    self._tenants.popitem(last=False)  # calls already using it finish on it; later ones start anew
            else:
                self._tenants.move_to_end(key)
            return tenant

    @property
    def org_count(self) -> int:
        """Orgs kept now (at most max_orgs)."""
        with self._lock:
            return len(self._tenants)

    @property
    def record_count(self) -> int:
        """Live records across the orgs kept now (each at most max_records_per_org)."""
        with self._lock:
            tenants = list(self._tenants.values())
        return sum(t.org.record_count for t in tenants)

    def org(self, instance_url: str) -> Org:
        """The org behind an instance URL, for tests to seed and inspect."""
        return self.tenant(instance_url).org
