"""Bulk API 2.0 ingest for large writes: one job, CSV upload, polling inside the deadline, rows tied back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.salesforce.bulk_csv import ResultRow, Table, build_table, parse_error, parse_results, render
from adapters.salesforce.bulk_match import RowMatcher
from adapters.salesforce.transport import Session
from core.describe import ObjectDescribe
from core.model import ResultError
from core.ports import BackendError, WriteOutcome
from core.write_paths import AUTO_BULK_FROM

# How rows are tied back to records. Result CSVs come in any order and echo every uploaded column, with
# each value as the org stored it (bulk_match compares them by field type, from describe); rows with
# equal values are interchangeable (possible for inserts, which carry no key), so each result row takes
# one of them. Update, upsert and delete may also be tied by the key column (Id or the external id) when
# it names one row still open. A row no result mentions is OUTCOME_UNKNOWN, never silently retried. No
# correlation column is added to inserts (Bulk refuses unknown fields).
#
# Absent versus null: one job per write, with the union of the records' fields as columns. A field a
# record lacks is an empty cell (Bulk: leave it unchanged); None or "" is #N/A (set to null), as
# null or "" clears a field over REST.
OPERATIONS = {"create": "insert", "update": "update", "upsert": "upsert", "delete": "delete",
              "hardDelete": "hardDelete"}
# A hardDelete job for a user without the "Bulk API Hard Delete" permission: refused at creation with this code;
# a job failing for it later (its errorMessage naming it) is read the same way.
NOT_PERMITTED = "FEATURENOTENABLED"
_NOT_PERMITTED_TEXT = ("featurenotenabled", "requires special user profile permission")
TERMINAL = ("JobComplete", "Failed", "Aborted")
# A result element shaped like an sObject Collections one ({id, success, errors, created}), or a final outcome.
Item = dict[str, Any] | WriteOutcome


@dataclass(frozen=True)
class BulkSettings:
    """When to use Bulk API 2.0, and how to wait for a job."""

    # Records in one write from which a job is weighed against REST (core.write_paths; None: AUTO_BULK_FROM),
    # or used at all when the operator forces Bulk (None: from one record); 0 = never.
    threshold: int | None = None
    poll_initial_seconds: float = 0.5
    poll_max_seconds: float = 10.0
    # A job reporting progress is next polled when it should be done, up to this long.
    poll_eta_max_seconds: float = 120.0
    # Time kept back from the deadline to abort a job and read its results.
    reserve_seconds: float = 2.0
    # How long to wait for a job when the call has no deadline.
    max_wait_seconds: float = 600.0
    max_upload_bytes: int = 100_000_000  # per PUT; Salesforce takes up to ~100 MB of raw CSV

    def bulk_from(self, forced: bool) -> int:
        """Records from which a write may go Bulk (a huge number: never)."""
        if self.threshold == 0:
            return 1 << 62
        return self.threshold if self.threshold is not None else (1 if forced else AUTO_BULK_FROM)

    def time_left(self, session: Session) -> bool:
        """Whether the deadline leaves time to wait for a job."""
        remaining = session.timing.remaining(session.deadline)
        return remaining is None or remaining > self.reserve_seconds + self.poll_initial_seconds


def _eta(info: dict[str, Any], rows: int, elapsed: float, settings: BulkSettings) -> float:
    """Seconds until the job should be done at the rate it has processed records so far (0: no estimate),
    at most `poll_eta_max_seconds`; the deadline still bounds every wait."""
    done = info.get("numberRecordsProcessed")
    if not isinstance(done, int) or done <= 0 or elapsed <= 0:
        return 0.0
    if done >= rows:  # every record processed, the job still finishing: a quarter of the time it took
        return min(elapsed / 4, settings.poll_eta_max_seconds)
    return min((rows - done) * elapsed / done, settings.poll_eta_max_seconds)


def bulk_row(payload: Any) -> dict[str, Any]:
    """A collections payload (a record with attributes, or a bare id for a delete) as a Bulk API row."""
    if isinstance(payload, str):
        return {"Id": payload}
    row = {}
    for k, v in payload.items():
        if k in ("attributes", "id"):
            continue
        if isinstance(v, dict):  # a relationship reference: Account.External_Id__c, or Account:What.Key__c
            kind = v.get("attributes", {}).get("type")
            row.update({f"{kind + ':' if kind else ''}{k}.{key}": value for key, value in v.items()
                        if key != "attributes"})
        else:
            row[k] = v
    return {"Id": payload["id"], **row} if "id" in payload else row


def holds_hash_na(payload: Any) -> bool:
    """A record holding the literal text #N/A, which a CSV cell cannot say (Bulk reads it as null)."""
    return isinstance(payload, dict) and any(isinstance(v, str) and v.strip() == "#N/A" for v in payload.values())


def unknown(why: str) -> WriteOutcome:
    return WriteOutcome(False, error=ResultError("OUTCOME_UNKNOWN", f"{why}; Salesforce may or may not have "
                                                 "written this record: check before retrying"))


class BulkJob:
    """One ingest job for one write: `run` returns one Item per record, in the records' order."""

    def __init__(self, session: Session, settings: BulkSettings, object_name: str, op: str,
                 external_id_field: str = "", describe: ObjectDescribe | None = None):
        self._session, self._settings, self._describe = session, settings, describe
        self._object, self._op, self._external = object_name, op, external_id_field
        self._url = f"{session.data_url}/jobs/ingest"
        self.job_id = ""
        self._out_of_time = False  # the job was aborted because the deadline came near

    # The job's life -------------------------------------------------------------------------------
    def run(self, records: Sequence[Mapping[str, Any]]) -> list[Item]:
        key = {"upsert": self._external, "update": "Id", "delete": "Id", "hardDelete": "Id"}.get(self._op, "")
        table = build_table(records, key)
        uploads = list(render(table.header, table.rows, self._settings.max_upload_bytes))
        try:
            self.create()
        except BackendError as exc:
            return [WriteOutcome(False, error=exc.error)] * len(records)
        try:
            for data in uploads:
                self._session.request("PUT", f"{self._url}/{self.job_id}/batches", data, idempotent=False,
                                      content_type="text/csv")
        except BackendError as exc:
            self.abort()  # never closed, so never processed: nothing was written
            return [WriteOutcome(False, error=self.upload_failure(exc.error))] * len(records)
        return self._collect(self.wait_closed(len(table.rows)), table)

    def upload_failure(self, error: ResultError) -> ResultError:
        """What an upload's failure means for its rows, once the job was aborted: nothing was written."""
        if error.code != "OUTCOME_UNKNOWN":
            return error
        return ResultError("UNKNOWN_EXCEPTION", f"uploading the data of Bulk API job {self.job_id} failed "
                           f"({error.message[:200]}); the job was aborted, nothing was written")

    def wait_closed(self, rows: int) -> dict[str, Any]:
        """Close the job and wait for it to end (see _wait); its last job info."""
        return self._wait(self._close(), rows)

    def create(self) -> None:
        spec: dict[str, Any] = {"object": self._object, "operation": OPERATIONS[self._op], "contentType": "CSV",
                                "lineEnding": "LF", "columnDelimiter": "COMMA"}
        if self._op == "upsert":
            spec["externalIdFieldName"] = self._external
        _, body = self._session.json("POST", self._url, spec)
        if not isinstance(body, dict) or not body.get("id"):
            raise BackendError(ResultError("UNKNOWN_EXCEPTION", "Salesforce created no Bulk API job (no job id)"))
        self.job_id = str(body["id"])

    def _info(self) -> dict[str, Any] | None:
        try:
            _, body = self._session.json("GET", f"{self._url}/{self.job_id}")
        except BackendError:
            return None
        return body if isinstance(body, dict) else None

    def _set_state(self, state: str) -> dict[str, Any] | None:
        try:
            _, body = self._session.json("PATCH", f"{self._url}/{self.job_id}", {"state": state})
        except BackendError:
            return None
        return body if isinstance(body, dict) else None

    def abort(self) -> dict[str, Any] | None:
        return self._set_state("Aborted") or self._info()

    def _close(self) -> dict[str, Any]:
        closed = self._set_state("UploadComplete")
        if closed is not None:
            return closed
        info = self._info()  # the close may have gone through before its answer was lost
        if info is None or info.get("state") == "Open":
            info = self.abort() or info
        return info or {"state": "Unknown"}

    def _wait(self, info: dict[str, Any], rows: int) -> dict[str, Any]:
        """Poll with exponential backoff until the job ends, or at the time its progress says it will end
        (a large job costs a handful of polls); abort it when the deadline comes near."""
        timing, s = self._session.timing, self._settings
        started = timing.clock()
        deadline = self._session.deadline
        if deadline is None:
            deadline = started + s.max_wait_seconds
        delay, failures = s.poll_initial_seconds, 0
        while info.get("state") not in TERMINAL:
            remaining = timing.remaining(deadline) or 0.0
            if remaining - delay < s.reserve_seconds or failures >= self._session.policy.max_attempts:
                self._out_of_time = remaining - delay < s.reserve_seconds
                return self.abort() or info
            timing.sleep(delay)
            polled = self._info()
            failures = 0 if polled is not None else failures + 1
            info = polled or info
            delay = max(min(delay * 2, s.poll_max_seconds), _eta(info, rows, timing.clock() - started, s))
        return info

    # Results --------------------------------------------------------------------------------------
    def result_kinds(self, info: dict[str, Any], count: int) -> tuple[str, dict[str, bool] | None]:
        """The job's state, and which result sets to download first (True) or only if some row of the
        `count` uploaded is still unaccounted for (False); None while the job has not ended."""
        state = str(info.get("state") or "Unknown")
        if state not in TERMINAL:
            return state, None
        processed = _int(info.get("numberRecordsProcessed"), count)
        failed = _int(info.get("numberRecordsFailed"), 0)
        return state, {"successfulResults": processed > failed, "failedResults": failed > 0,
                       "unprocessedrecords": state != "JobComplete"}

    def _collect(self, info: dict[str, Any], table: Table) -> list[Item]:
        count = len(table.rows)
        state, kinds = self.result_kinds(info, count)
        if kinds is None:
            return [unknown(f"Bulk API job {self.job_id} was still {state} when sfdest stopped waiting")] * count
        matcher = RowMatcher(table, None if self._op == "create" else 0, self._describe)
        items: list[Item | None] = [None] * count
        for pass_ in (True, False):  # skipped downloads are fetched if some row is still unaccounted for
            fetch = [k for k, wanted in kinds.items() if wanted is pass_ and (pass_ or None in items)]
            rows = [row for kind in fetch for row in self._download(kind, table)]
            for n, row in matcher.tie(rows):
                items[n] = self._item(row, state, info)
        why = f"Bulk API job {self.job_id} ended {state} but its results do not mention this record"
        return [i if i is not None else unknown(why) for i in items]

    def _download(self, kind: str, table: Table) -> list[ResultRow]:
        try:
            response = self._session.request("GET", f"{self._url}/{self.job_id}/{kind}/", accept="text/csv")
        except BackendError:
            return []
        text = response.content.decode("utf-8", errors="replace")  # Bulk result CSVs are UTF-8
        return parse_results(text, table.header, kind)

    def _item(self, row: ResultRow, state: str, info: dict[str, Any]) -> Item:
        if row.kind == "successfulResults":
            item: dict[str, Any] = {"id": row.sf_id, "success": True, "errors": []}
            if self._op == "upsert":
                item["created"] = row.sf_flag.strip().lower() == "true"
            return item
        if row.kind == "failedResults":
            return {"id": row.sf_id, "success": False, "errors": [parse_error(row.sf_flag)]}
        said = str(info.get("errorMessage") or "")[:300]
        if self._out_of_time:
            return WriteOutcome(False, error=ResultError(
                "DEADLINE_EXCEEDED", f"the call's deadline came before Bulk API job {self.job_id} processed this "
                "record; the job was aborted and nothing was written for it"))
        code = NOT_PERMITTED if any(t in said.lower() for t in _NOT_PERMITTED_TEXT) else "UNKNOWN_EXCEPTION"
        return WriteOutcome(False, error=ResultError(
            code, f"Bulk API job {self.job_id} ended {state} before processing this record"
            f"{f' ({said})' if said else ''}; nothing was written for it"))


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
