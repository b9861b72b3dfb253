"""SalesforceStore: the RecordStore port over the REST API (describe, SOQL lookups, sObject Collections)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from adapters.salesforce import soql
from adapters.salesforce.bulk import BulkJob, BulkSettings, bulk_row
from adapters.salesforce.describe_cache import DescribeCache
from adapters.salesforce.record_errors import may_be_a_lost_race, missing_record, with_duplicate_field
from adapters.salesforce.retry import Attempts
from adapters.salesforce.transport import Session, is_lock_error, merge_errors
from adapters.salesforce.write_headers import duplicate_ids
from core.describe import ObjectDescribe
from core.describe_rest import describe_from_rest
from core.model import ApiUsage, ResultError
from core.names import api_name_problem, normalize_id
from core.parents import ParentRef, rest_fields
from core.ports import BackendError, Lookup, Record, WriteOptions, WriteOutcome
from core.record_types import RecordTypeInfo, record_types_from_layouts
from core.write_headers import headers_for

COLLECTION_LIMIT = 200
_MAX_PAGES = 100_000
_IDS_IN_BRACKETS = re.compile(r"\[([A-Za-z0-9,\s]+)\]")
# What a collection delete answers for a record that is already gone.
_GONE = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND"})
_T = TypeVar("_T")
_R = TypeVar("_R")
Send = Callable[[list[Any], Attempts], list[WriteOutcome]]


def _strip_attributes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_attributes(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_strip_attributes(v) for v in value]
    return value


def _fail(code: str, message: str, fields: tuple[str, ...] = ()) -> WriteOutcome:
    return WriteOutcome(False, error=ResultError(code, message, fields))


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, ParentRef):
        return _scalar_problem(value.value)
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "is not a finite number"
    return f"has unsupported type {type(value).__name__}"


def _fields_problem(fields: Mapping[str, Any], forbid_id: bool) -> WriteOutcome | None:
    """A local refusal for a record whose field names or values Salesforce must never see."""
    seen: set[str] = set()
    for name, value in fields.items():
        problem = api_name_problem(name) if isinstance(name, str) else "must be a string"
        if problem is None and name.lower() == "attributes":
            problem = "is reserved"
        if problem is None and name.lower() in seen:
            problem = "appears twice (field names are case-insensitive)"
        if isinstance(name, str):
            seen.add(name.lower())
        if problem is None and forbid_id and name.lower() == "id":
            problem = "cannot be set in an update (the record id is the update's target)"
        if problem:
            shown = repr(name)[:90] if isinstance(name, str) else type(name).__name__
            return _fail("INVALID_FIELD", f"field name {shown} {problem}", (str(name)[:80],))
        value_problem = _scalar_problem(value)
        if value_problem:
            return _fail("MAPPING_VALUE_INVALID", f"the value for {name} {value_problem}", (name,))
    return None


class SalesforceStore:
    """One org through one Apply or Validate; every method is batch-first and thread-safe."""

    def __init__(self, session: Session, describes: DescribeCache, identity: Any, max_in_flight: int = 10,
                 max_url_bytes: int = soql.DEFAULT_MAX_URL_BYTES, batch_size: int = COLLECTION_LIMIT,
                 bulk: BulkSettings | None = None):
        self._session, self._describes, self._identity = session, describes, identity
        self._bulk = bulk or BulkSettings()
        self._max_in_flight = max(1, max_in_flight)
        self._max_url_bytes = min(max_url_bytes, soql.URI_LIMIT_BYTES)
        self._batch = max(1, min(batch_size, COLLECTION_LIMIT))

    @property
    def api_calls(self) -> int:
        return self._session.calls

    @property
    def api_usage(self) -> ApiUsage | None:
        return self._session.usage

    @property
    def rotated_refresh_token(self) -> str:
        return self._session.rotated_refresh_token()

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
            if exc.error.code == "NOT_FOUND":
                raise BackendError(ResultError("NOT_FOUND", f"the org has no object {object_name}, or this user "
                                               "cannot see it", ("action.object",))) from None
            raise
        if not isinstance(body, dict) or not body.get("name"):
            raise BackendError(ResultError("UNKNOWN_EXCEPTION", f"Salesforce sent an unreadable describe of "
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
            raise BackendError(ResultError("UNKNOWN_EXCEPTION", f"Salesforce sent unreadable record types of "
                                           f"{object_name}"))
        infos = record_types_from_layouts(body)
        self._describes.put(self._identity, key, infos)  # type: ignore[arg-type]
        return infos

    # Find ----------------------------------------------------------------------------------------
    def find(self, lookup: Lookup) -> list[Record]:
        soql.check_name(lookup.object_name, "object")
        names = [*lookup.select, *(t.field for c in lookup.where for t in c)]
        for name in names:
            soql.check_name(name)
        describe = self.describe(lookup.object_name)
        try:
            return self._run_lookup(lookup, describe)
        except BackendError as exc:
            if exc.error.code != "INVALID_FIELD":
                raise
        # The cached describe may be stale: refresh it once, then retry with what the org has now.
        self._describes.drop(self._identity, lookup.object_name)
        describe = self._fetch_describe(lookup.object_name)
        missing = tuple(dict.fromkeys(n for n in names if describe.field(n) is None))
        if missing:
            raise BackendError(ResultError("INVALID_FIELD", f"{lookup.object_name} has no field "
                                           f"{', '.join(missing)} (or this user cannot see it)", missing))
        return self._run_lookup(lookup, describe)

    def _run_lookup(self, lookup: Lookup, describe: ObjectDescribe) -> list[Record]:
        prefix = f"{self._session.data_url}/query?q="
        queries = soql.lookup_queries(lookup, describe, prefix, self._max_url_bytes)
        found: dict[str, Record] = {}
        anonymous: list[Record] = []
        for records in self._parallel(queries, lambda q: self._query_all(soql.query_url(prefix, q))):
            for record in records:
                rid = record.get("Id") if isinstance(record, dict) else None
                if isinstance(rid, str):
                    found.setdefault(rid, record)
                else:
                    anonymous.append(record)
        return [*found.values(), *anonymous]

    def _query_all(self, url: str) -> list[Record]:
        records: list[Record] = []
        seen = {url}
        for _ in range(_MAX_PAGES):
            _, body = self._session.json("GET", url)
            if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                raise BackendError(ResultError("UNKNOWN_EXCEPTION", "Salesforce sent an unreadable query result"))
            records.extend(_strip_attributes(r) for r in body["records"] if isinstance(r, dict))
            next_path = body.get("nextRecordsUrl")
            if body.get("done", True) is not False or not next_path:
                return records
            url = self._session.follow(next_path)
            if url in seen:
                raise BackendError(ResultError("UNKNOWN_EXCEPTION", "Salesforce sent the same next-page URL twice"))
            seen.add(url)
        raise BackendError(ResultError("UNKNOWN_EXCEPTION", "a query returned too many pages"))

    # Writes --------------------------------------------------------------------------------------
    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[WriteOutcome]:
        soql.check_name(object_name, "object")
        items = [_fields_problem(r, forbid_id=False) or {"attributes": {"type": object_name}, **rest_fields(r)}
                 for r in records]
        url = f"{self._session.data_url}/composite/sobjects"
        return self._write(object_name, items, lambda chunk, tries: self._send_records("POST", url, chunk, False,
                                                                                      "create", tries),
                           lambda rows: self._send_bulk(object_name, "create", rows))

    def update(self, object_name: str, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[WriteOutcome]:
        soql.check_name(object_name, "object")
        items: list[Any] = []
        for record_id, fields in records:
            canonical = normalize_id(record_id) if isinstance(record_id, str) else None
            if canonical is None:
                items.append(_fail("MALFORMED_ID", f"{object_name} ID: id value of incorrect type", ("Id",)))
                continue
            items.append(_fields_problem(fields, forbid_id=True)
                         or {"attributes": {"type": object_name}, "id": canonical, **rest_fields(fields)})
        url = f"{self._session.data_url}/composite/sobjects"
        return self._write(object_name, items, lambda chunk, tries: self._send_records("PATCH", url, chunk, True,
                                                                                      "update", tries, object_name),
                           lambda rows: self._send_bulk(object_name, "update", rows))

    def upsert(self, object_name: str, external_id_field: str, records: Sequence[Mapping[str, Any]]
               ) -> list[WriteOutcome]:
        soql.check_name(object_name, "object")
        soql.check_name(external_id_field)
        items: list[Any] = []
        for r in records:
            problem = _fields_problem(r, forbid_id=False)
            key = next((k for k in r if isinstance(k, str) and k.lower() == external_id_field.lower()), None)
            if problem is None and (key is None or r[key] is None or r[key] == ""):
                problem = _fail("MATCHER_VALUE_MISSING", f"the record has no value for the external id field "
                                f"{external_id_field}", (external_id_field,))
            items.append(problem or {"attributes": {"type": object_name}, **rest_fields(r)})
        url = f"{self._session.data_url}/composite/sobjects/{object_name}/{external_id_field}"

        def send(chunk: list[Any], tries: Attempts) -> list[WriteOutcome]:
            return self._send_records("PATCH", url, chunk, True, "upsert", tries, object_name, external_id_field)

        outcomes = self._write(object_name, items, send,
                               lambda rows: self._send_bulk(object_name, "upsert", rows, external_id_field))
        # Two writers upserting one new key at once: the loser gets DUPLICATE_VALUE on the key (named in
        # the message, "fields": []), and sending it again (upserts are idempotent) updates the record
        # the winner created.
        raced = [n for n, o in enumerate(outcomes) if not o.success and o.error is not None
                 and may_be_a_lost_race(o.error, external_id_field)]
        if raced:
            self._session.telemetry.salesforce_retry("upsert", "DUPLICATE_VALUE")
            resent = self._send_chunks([items[n] for n in raced], lambda c: send(c, self._attempts()))
            for n, outcome in zip(raced, resent, strict=True):
                outcomes[n] = outcome
        return outcomes

    def delete(self, object_name: str, ids: Sequence[str]) -> list[WriteOutcome]:
        soql.check_name(object_name, "object")
        items: list[Any] = []
        for record_id in ids:
            canonical = normalize_id(record_id) if isinstance(record_id, str) else None
            items.append(canonical or _fail("MALFORMED_ID", f"{object_name} ID: id value of incorrect type", ("Id",)))
        return self._write(object_name, items, lambda chunk, tries: self._send_delete(object_name, chunk, tries),
                           lambda rows: self._send_bulk(object_name, "delete", rows))

    def _write(self, object_name: str, items: list[Any], send: Send,
               bulk: Callable[[list[Any]], list[WriteOutcome]]) -> list[WriteOutcome]:
        """Send the items that passed local checks: one Bulk API job from the bulk threshold on, else
        collection-sized chunks, concurrently; results in order."""
        results: list[WriteOutcome | None] = [i if isinstance(i, WriteOutcome) else None for i in items]
        pending = [n for n, i in enumerate(items) if not isinstance(i, WriteOutcome)]
        # A CSV cell cannot say the literal text #N/A (Bulk reads it as null): such records go as JSON.
        literal = [n for n in pending if _holds_hash_na(items[n])]
        literal_set = set(literal)
        bulk_rows = [n for n in pending if n not in literal_set]
        # Bulk API 2.0 takes no duplicate-rule or assignment header: with write options, collections only.
        if self._bulk.wanted(len(bulk_rows), self._session) and not self._session.write_headers:
            rows = [items[n] for n in bulk_rows]
            outcomes = bulk(rows)
            # Rows a job refused for a row lock were not written: resend only those, via collections
            # (the job was their first attempt).
            locked = [i for i, o in enumerate(outcomes) if _locked(o)]
            resent = self._send_chunks([(rows[i], outcomes[i]) for i in locked], lambda pairs: self._with_lock_retries(
                [p for p, _ in pairs], send, [o for _, o in pairs], self._attempts(used=1)))
            for i, outcome in zip(locked, resent, strict=True):
                outcomes[i] = outcome
            for n, outcome in zip(bulk_rows, outcomes, strict=True):
                results[n] = outcome
            pending = literal
        payloads = [items[n] for n in pending]
        outcomes = self._send_chunks(payloads, lambda c: self._with_lock_retries(c, send))
        for n, outcome in zip(pending, outcomes, strict=True):
            results[n] = outcome
        if any(r is not None and r.error is not None and r.error.code == "INVALID_FIELD" for r in results):
            self._describes.drop(self._identity, object_name)  # the org changed: describe afresh next time
        return [self._scrubbed(r) if r is not None else _fail("UNKNOWN_EXCEPTION", "no result") for r in results]

    def _scrubbed(self, outcome: WriteOutcome) -> WriteOutcome:
        if outcome.error is None:
            return outcome
        error = self._session.scrub(outcome.error)
        return outcome if error is outcome.error else replace(outcome, error=error)

    def _send_chunks(self, payloads: list[Any], send: Callable[[list[Any]], list[WriteOutcome]]
                     ) -> list[WriteOutcome]:
        """`send` over collection-sized chunks, up to max_in_flight at once; outcomes in order."""
        chunks = [payloads[i:i + self._batch] for i in range(0, len(payloads), self._batch)]
        return [o for outcomes in self._parallel(chunks, send) for o in outcomes]

    def _send_bulk(self, object_name: str, op: str, payloads: list[Any], external_id_field: str = ""
                   ) -> list[WriteOutcome]:
        """One Bulk API 2.0 job; its rows' results mapped exactly as collection results are."""
        rows = [bulk_row(p) for p in payloads]
        try:  # result rows echo values as stored: tying them back compares cells by field type
            describe: ObjectDescribe | None = self.describe(object_name)
        except BackendError:
            describe = None
        items = BulkJob(self._session, self._bulk, object_name, op, external_id_field, describe).run(rows)
        return [i if isinstance(i, WriteOutcome) else _outcome(i, op, object_name, external_id_field) for i in items]

    def _attempts(self, used: int = 0) -> Attempts:
        return Attempts(self._session.policy.max_attempts, used)

    def _with_lock_retries(self, payloads: list[Any], send: Send, first: list[WriteOutcome] | None = None,
                           attempts: Attempts | None = None) -> list[WriteOutcome]:
        """Send a chunk; resend only rows Salesforce refused for a row lock (they were not written).

        The one retry loop for locks: every request that carries a row, the transport's retries included,
        spends the chunk's attempt budget, and resends are at least `lock_base_delay` apart.
        """
        attempts = attempts or self._attempts()
        outcomes = first if first is not None else send(payloads, attempts)
        policy, timing = self._session.policy, self._session.timing
        while True:
            locked = [i for i, o in enumerate(outcomes) if _locked(o)]
            if not locked or attempts.left <= 0 or not timing.lock_backoff(attempts.used, self._session.deadline,
                                                                          policy):
                return outcomes
            for _ in locked:
                self._session.telemetry.salesforce_retry("write", "UNABLE_TO_LOCK_ROW")
            for i, outcome in zip(locked, send([payloads[i] for i in locked], attempts), strict=True):
                outcomes[i] = outcome

    def _send_records(self, method: str, url: str, records: list[Any], idempotent: bool, op: str,
                      attempts: Attempts, object_name: str = "", external_id_field: str = "") -> list[WriteOutcome]:
        try:
            _, body = self._session.json(method, url, {"allOrNone": False, "records": records}, idempotent, attempts)
        except BackendError as exc:
            return [WriteOutcome(False, error=exc.error)] * len(records)
        return self._outcomes(body, len(records), op, idempotent, object_name, external_id_field)

    def _send_delete(self, object_name: str, ids: list[Any], attempts: Attempts) -> list[WriteOutcome]:
        url = f"{self._session.data_url}/composite/sobjects?ids={','.join(ids)}&allOrNone=false"
        try:
            _, body = self._session.json("DELETE", url, attempts=attempts)
        except BackendError as exc:
            return [WriteOutcome(False, error=exc.error)] * len(ids)
        outcomes = self._outcomes(body, len(ids), "delete", True, object_name)
        if not attempts.maybe_delivered:
            return outcomes
        # An earlier attempt of this delete may have been applied before its answer was lost: a record
        # now gone was deleted by this call.
        return [WriteOutcome(True, id=rid) if not o.success and o.error is not None and o.error.code in _GONE
                else o for rid, o in zip(ids, outcomes, strict=True)]

    @staticmethod
    def _outcomes(body: Any, count: int, op: str, idempotent: bool, object_name: str = "",
                  external_id_field: str = "") -> list[WriteOutcome]:
        if not isinstance(body, list) or len(body) != count:
            code = "UNKNOWN_EXCEPTION" if idempotent else "OUTCOME_UNKNOWN"
            return [_fail(code, f"Salesforce answered the {op} with an unreadable result; it may or may not have "
                          "written these records")] * count
        return [_outcome(item, op, object_name, external_id_field) for item in body]

    def _parallel(self, items: Sequence[_T], fn: Callable[[_T], _R]) -> list[_R]:
        """`fn` over items, up to max_in_flight at once, results in order."""
        if len(items) <= 1 or self._max_in_flight == 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(len(items), self._max_in_flight),
                                thread_name_prefix="sfdest-sf") as pool:
            return list(pool.map(fn, items))


def _matched_ids(message: str) -> tuple[str, ...]:
    ids = []
    for group in _IDS_IN_BRACKETS.findall(message):
        for part in group.split(","):
            canonical = normalize_id(part.strip())
            if canonical:
                ids.append(canonical)
    return tuple(dict.fromkeys(ids))


def _outcome(item: Any, op: str, object_name: str, external_id_field: str) -> WriteOutcome:
    """One collection result element (`{id, success, errors[{statusCode, message, fields}], created}`)."""
    if not isinstance(item, dict):
        return _fail("UNKNOWN_EXCEPTION", "Salesforce sent an unreadable result for this record")
    record_id = str(item.get("id") or "")
    if item.get("success") is True:
        return WriteOutcome(True, id=record_id, created=bool(item.get("created", op == "create")))
    errors = item.get("errors")
    error = merge_errors(errors if isinstance(errors, list) else [], "statusCode") or ResultError(
        "UNKNOWN_EXCEPTION", "Salesforce reported a failure without details")
    error = missing_record(error, op, object_name) or with_duplicate_field(error)
    several = ("more than one record" in error.message.lower() or error.code == "MULTIPLE_CHOICES") and \
        "foreign key external id" not in error.message.lower()
    if op == "upsert" and error.code in ("DUPLICATE_EXTERNAL_ID", "MULTIPLE_CHOICES") and several:
        ids = _matched_ids(error.message)
        count = str(len(ids)) if ids else "several"
        return WriteOutcome(False, id=record_id, matched_ids=ids, error=ResultError(
            "MULTIPLE_MATCHES", f"{count} {object_name} records have this {external_id_field} value; nothing was "
            f"written (Salesforce: {error.message[:300]})", (external_id_field,)))
    return WriteOutcome(False, id=record_id, error=error,
                        matched_ids=duplicate_ids(errors) if isinstance(errors, list) else ())


def _locked(outcome: WriteOutcome) -> bool:
    return not outcome.success and outcome.error is not None and is_lock_error(outcome.error)


def _holds_hash_na(payload: Any) -> bool:
    return isinstance(payload, dict) and any(isinstance(v, str) and v.strip() == "#N/A" for v in payload.values())
