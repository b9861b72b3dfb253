"""Ports: what core needs from a Salesforce org, batch-first. Adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from core.codes import Code
from core.describe import ObjectDescribe
from core.model import ApiUsage, Connection, DuplicateRuleHeader, ResultError, Scalar
from core.record_types import RecordTypeInfo
from core.steps import StepClock

Record = Mapping[str, Any]


@dataclass(frozen=True)
class FieldIn:
    """`field IN values` (a single value means `field = value`)."""

    field: str
    values: tuple[Scalar, ...]


# A conjunction of terms; a lookup's WHERE is a disjunction of conjunctions.
Conjunction = tuple[FieldIn, ...]


@dataclass(frozen=True)
class Lookup:
    """Find the candidate records of many events in one request.

    Adapters return every record satisfying `where`, with the `select` fields (always `Id`).
    Deciding which event a record belongs to, and what 0, 1 or many matches mean, is core's job.
    """

    object_name: str
    select: tuple[str, ...]
    where: tuple[Conjunction, ...]
    # The recycle bin too (Salesforce's queryAll): deleted and merged-away records, with IsDeleted true.
    include_deleted: bool = False


@dataclass(frozen=True)
class RecordRefusal:
    """What Salesforce answered for a record (or for the request carrying it), in its own words: its error code
    (`statusCode`/`errorCode`), message and fields, and the HTTP status when it came alone. Adapters report it as
    they got it; what it means is core's to say (core.salesforce_answers)."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    status: int = 0


@dataclass(frozen=True)
class WriteOutcome:
    """The result of one record of a batched write, in request order.

    A refused record carries Salesforce's answer (`refusal`), or an error of sfdest's own the adapter met on the
    way (`error`: nothing sent, the deadline, an answer lost). Core reads a refusal into its `error`.
    """

    success: bool
    id: str = ""
    created: bool = False
    error: ResultError | None = None
    # For an upsert whose key matched several records, or a duplicate rule's duplicates: their ids.
    matched_ids: tuple[str, ...] = ()
    refusal: RecordRefusal | None = None

    @property
    def said(self) -> RecordRefusal | ResultError | None:
        """Why the record was refused, as the adapter knows it (Salesforce's answer, else sfdest's error)."""
        return self.refusal or self.error


@dataclass(frozen=True)
class WriteOptions:
    """Headers an action sends with its writes: the duplicate-rule header, and the assignment rule
    (ASSIGNMENT_DEFAULT, ASSIGNMENT_NONE or a rule id)."""

    duplicate_rule: DuplicateRuleHeader | None = None
    assignment_rule: str = ""


@dataclass(frozen=True)
class WriteBatch:
    """One kind of write of a round: `create`/`upsert` take records, `update` (id, fields) pairs, `delete` ids.
    `object_name` says which object it writes (RecordStore.write_batches; `write` is given the object)."""

    kind: str
    items: Sequence[Any]
    external_id_field: str = ""
    # Per item, the keys of the events it writes (core.idempotency.event_key), when the Apply keeps them: a
    # store may register a long-running write under them so that a retry of those events picks it up.
    tags: Sequence[tuple[str, ...]] = ()
    object_name: str = ""


class BackendError(Exception):
    """A failure that hit a whole call (auth, unreachable org, bad instance URL, no such object)."""

    def __init__(self, error: ResultError):
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


class RecordStore(Protocol):
    """One org, seen through one Apply or Validate call. Every method is batch-first.

    Write methods accept any number of records and split them as the org requires; they report a
    failure per record (never raise for one chunk) so one refused record never fails its
    neighbours. They raise BackendError only for failures that prevent every write.
    """

    def describe(self, object_name: str) -> ObjectDescribe: ...

    def record_types(self, object_name: str) -> tuple[RecordTypeInfo, ...]:
        """The object's record types (one call per org and object, cached like describe)."""
        ...

    def find(self, lookup: Lookup) -> list[Record]: ...

    def find_many(self, lookups: Sequence[Lookup]) -> list[list[Record]]:
        """Several lookups at once, one record list each (Salesforce: their queries go together, five to a
        Composite call)."""
        ...

    def set_write_options(self, options: WriteOptions) -> None:
        """Send these headers with every later write of this store (collections only: no Bulk API job)."""
        ...

    def reserve(self, object_name: str, lookups: Sequence[Lookup], records: int, kinds: int = 1, jobs: int = 0
                ) -> AbstractContextManager[ResultError | None]:
        """Reserve, before any is sent, the API calls of these lookups and of writing up to `records` records
        of `object_name` (of up to `kinds` kinds of write) and of `jobs` Bulk API jobs (an Erase's hardDelete
        jobs, one per object) after them, with the org's API budget governor;
        yields the refusal (nothing reserved: send nothing) or None. Calls the requests inside did not use
        are released at the end. A store without a governor yields None."""
        ...

    def delete_anywhere(self, ids: Sequence[str]) -> list[WriteOutcome]:
        """Delete records of any objects by id, in request order (Salesforce's collections delete takes
        several types at once: one call per 200 ids, never a Bulk API job)."""
        ...

    def hard_delete(self, object_name: str, ids: Sequence[str]) -> list[WriteOutcome]:
        """Delete records of one object past the recycle bin, in request order: one Bulk API 2.0 `hardDelete`
        job (a handful of calls whatever the count). Raises BackendError FEATURENOTENABLED, nothing deleted,
        when the org does not let this user hard-delete (the "Bulk API Hard Delete" system permission)."""
        ...

    def hard_delete_many(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> list[list[WriteOutcome] | ResultError]:
        """`hard_delete` for several objects (object name, ids), one job each; per job, in order, its outcomes
        or its FEATURENOTENABLED refusal. How the jobs run is the store's choice (Salesforce: a few at once, as
        a job takes seconds to minutes); core runs no threads. Raises BackendError for any other failure."""
        ...

    def merged_into(self, object_name: str, ids: Sequence[str]) -> dict[str, str]:
        """For the ids among `ids` that were merged away: the record each was merged into (its
        MasterRecordId, read from the recycle bin: Salesforce's queryAll). Ids not merged are absent."""
        ...

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[WriteOutcome]: ...

    def update(
        self, object_name: str, records: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteOutcome]: ...

    def upsert(
        self, object_name: str, external_id_field: str, records: Sequence[Mapping[str, Any]]
    ) -> list[WriteOutcome]: ...

    def delete(self, object_name: str, ids: Sequence[str]) -> list[WriteOutcome]: ...

    def write_batches(self, batches: Sequence[WriteBatch]) -> list[list[WriteOutcome]]:
        """A round's writes, of one object or several (each batch names its object); they touch different
        records. One outcome list per batch, in order. How they run is the store's choice (Salesforce: one
        object's batches go together, five collections to a Composite call; several objects' at once, within
        the org's cap); core runs no threads. A failure that stops one object's writes is reported for each of
        its records, never raised; past the deadline or once `stop()` is True, nothing more is sent."""
        ...

    def guard_writes(self, guard: Callable[[Sequence[str]], set[str]]) -> None:
        """Before each write call of tagged records (WriteBatch.tags), ask `guard` which of their event keys may
        go out; a record holding another key is not sent (EVENT_TAKEN_OVER, or COORDINATION_UNAVAILABLE when the
        guard raises core.coordination.CoordinationUnavailable)."""
        ...

    def resume_bulk(self, job_key: str) -> list[tuple[tuple[str, ...], str, WriteOutcome]]:
        """Pick up a registered long-running write (a Bulk API job, core.coordination.BulkJobs) another call
        left running: per row, the event keys it holds, the kind of write and its outcome ([]: not registered).
        Nothing is written again."""
        ...

    @property
    def delivered_bulk_jobs(self) -> tuple[str, ...]:
        """Registered jobs whose results this store answered: forgotten once the results are recorded."""
        ...

    @property
    def api_calls(self) -> int:
        """Salesforce API calls made through this store so far."""
        ...

    @property
    def describe_calls(self) -> int:
        """Of api_calls, those that fetched describe metadata."""
        ...

    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's daily API usage as last reported, if known."""
        ...

    @property
    def rotated_refresh_token(self) -> str:
        """The refresh token Salesforce rotated this connection's to ('' if none, or not an OAuth refresh)."""
        ...

    @property
    def write_path(self) -> str:
        """How this store's writes went (core.write_paths: "bulk", "composite", "collections"; several joined
        by "+"); "" when it wrote nothing, or has no such paths."""
        ...

    @property
    def api_budget_left(self) -> int | None:
        """Calls the API budget governor still lets sfdest make to the org; None without a governor."""
        ...


@dataclass(frozen=True)
class StreamRow:
    """One record of a streamed upsert, with the caller's tag for it (its outcome comes back with the tag)."""

    tag: int
    record: Record


# In a stream of rows: the records after it go in a later job than those before it.
JOB_BREAK = None


@runtime_checkable
class StreamingStore(Protocol):
    """A store that can upsert an unbounded stream of records without holding them (Salesforce: Bulk API 2.0
    jobs whose CSV is built and uploaded as the rows arrive)."""

    def upsert_stream(self, object_name: str, external_id_field: str, rows: Iterator[StreamRow | None],
                      clock: StepClock) -> Iterator[tuple[int, WriteOutcome, Record]] | None:
        """(tag, outcome, echo) for every row, in no particular order, as each job's results are read (echo:
        for a refused row, its fields as Salesforce echoed them, to explain the refusal; else empty); rows are
        pulled while a job is uploaded, so a job's outcomes come after its last row was pulled. Rows with
        equal keys never share a job, and a job's rows are written before a later job's. None: this store
        would not stream (a Bulk job is not wanted: Bulk disabled, or too little time left)."""
        ...


def write_per_object(batches: Sequence[WriteBatch],
                     write: Callable[[str, Sequence[WriteBatch]], list[list[WriteOutcome]]],
                     each: Callable[[Sequence[str], Callable[[str], list[list[WriteOutcome]]]],
                                    list[list[list[WriteOutcome]]]] | None = None) -> list[list[WriteOutcome]]:
    """`write_batches` for a store whose `write(object_name, batches)` writes one object: each object's batches
    in one `write`, the objects mapped by `each` (in turn by default; an adapter may pass its own pool's map).
    A BackendError fails only its object's records."""
    groups: dict[str, list[int]] = {}
    for n, batch in enumerate(batches):
        groups.setdefault(batch.object_name, []).append(n)

    def one(object_name: str) -> list[list[WriteOutcome]]:
        mine = [batches[n] for n in groups[object_name]]
        try:
            return write(object_name, mine)
        except BackendError as exc:
            return [[WriteOutcome(False, error=exc.error)] * len(b.items) for b in mine]

    objects = list(groups)
    answers = each(objects, one) if each is not None else [one(o) for o in objects]
    ordered: list[list[WriteOutcome]] = [[] for _ in batches]
    for object_name, per_batch in zip(objects, answers, strict=True):
        for n, outcomes in zip(groups[object_name], per_batch, strict=True):
            ordered[n] = outcomes
    return ordered


def hard_delete_per_object(jobs: Sequence[tuple[str, Sequence[str]]],
                           hard_delete: Callable[[str, Sequence[str]], list[WriteOutcome]],
                           each: Callable[[Sequence[tuple[str, Sequence[str]]],
                                           Callable[[tuple[str, Sequence[str]]], list[WriteOutcome] | ResultError]],
                                          list[list[WriteOutcome] | ResultError]] | None = None
                           ) -> list[list[WriteOutcome] | ResultError]:
    """`hard_delete_many` for a store whose `hard_delete(object_name, ids)` runs one job: the jobs mapped by `each`
    (in turn by default; an adapter may pass its own pool's map), a FEATURENOTENABLED refusal as that job's answer."""
    def one(job: tuple[str, Sequence[str]]) -> list[WriteOutcome] | ResultError:
        try:
            return hard_delete(*job)
        except BackendError as exc:
            if exc.error.code != Code.FEATURENOTENABLED:
                raise
            return exc.error

    return each(jobs, one) if each is not None else [one(job) for job in jobs]


class StoreFactory(Protocol):
    """Opens a RecordStore for a connection. `deadline` is a time.monotonic() instant or None; once `stop()`
    is True (the caller is gone, the server is stopping) the store starts no request: it raises BackendError
    CANCELLED, or reports it for the records it did not send."""

    def open(self, connection: Connection, deadline: float | None = None,
             stop: Callable[[], bool] | None = None) -> RecordStore: ...
