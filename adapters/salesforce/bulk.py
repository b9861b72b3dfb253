"""Bulk API 2.0 ingest for large writes: one job, CSV upload, polling inside the deadline, rows tied back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.salesforce.bulk_csv import ResultRow, Table, build_table, parse_error, parse_results, render
from adapters.salesforce.bulk_handover import BulkTracker, JobPlan, tags_complete
from adapters.salesforce.bulk_match import RowMatcher
from adapters.salesforce.transport import Session
from core import outcomes
from core.codes import Code
from core.describe import ObjectDescribe
from core.model import ResultError
from core.ports import BackendError, WriteOutcome
from core.salesforce_codes import failed_job_code
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
# a job failing for it later (its errorMessage naming it) is read the same way (core.salesforce_codes).
NOT_PERMITTED = Code.FEATURENOTENABLED
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
    return WriteOutcome(False, error=outcomes.error(Code.OUTCOME_UNKNOWN, f"{why}; Salesforce may or may not have "
                                                 "written this record: check before retrying"))


class BulkJob:
    """One ingest job for one write: `run` returns one Item per record, in the records' order."""

    def __init__(self, session: Session, settings: BulkSettings, object_name: str, op: str,
                 external_id_field: str = "", describe: ObjectDescribe | None = None,
                 tracker: BulkTracker | None = None):
        self._session, self._settings, self._describe = session, settings, describe
        self._object, self._op, self._external = object_name, op, external_id_field
        self._url = f"{session.data_url}/jobs/ingest"
        self.job_id = ""
        self._out_of_time = False  # the job was aborted because the deadline came near
        # With a tracker, a job whose records carry event keys is registered (bulk_handover): at the deadline it
        # is left running and its events answered BULK_JOB_PENDING; a retry picks it up.
        self._tracker, self._registered, self._pending = tracker, False, False

    # The job's life -------------------------------------------------------------------------------
    def run(self, records: Sequence[Mapping[str, Any]], tags: Sequence[tuple[str, ...]] | None = None) -> list[Item]:
        """`tags`: the event keys each record holds (registered for a handover when every record has some)."""
        key = {"upsert": self._external, "update": "Id", "delete": "Id", "hardDelete": "Id"}.get(self._op, "")
        table = build_table(records, key)
        uploads = list(render(table.header, table.rows, self._settings.max_upload_bytes))
        try:
            self.create()
        except BackendError as exc:
            return [WriteOutcome(False, error=exc.error)] * len(records)
        if self._tracker is not None and tags_complete(tags, len(records)):
            self._registered = self._tracker.register(JobPlan(self.job_id, self._object, self._op, self._external,
                                                              table, tuple(tags or ())))
        try:
            for data in uploads:
                self._on_job("PUT", "/batches", data, idempotent=False, content_type="text/csv")
        except BackendError as exc:
            self.abort()  # never closed, so never processed: nothing was written
            self._delivered()
            return [WriteOutcome(False, error=self.upload_failure(exc.error))] * len(records)
        return self._finish(self.wait_closed(len(table.rows)), table)

    def resume(self, plan: JobPlan) -> list[Item]:
        """Pick up a registered job another call left running (its replica died, or its deadline came): take
        its lease (waiting while a live owner holds it), poll on, tie its results back. Nothing is uploaded."""
        self.job_id, self._registered = plan.job_id, self._tracker is not None
        timing, s = self._session.timing, self._settings
        deadline = self._session.deadline
        limit = deadline if deadline is not None else timing.clock() + s.max_wait_seconds
        while self._tracker is not None and not self._tracker.own(self.job_id):
            if (timing.remaining(limit) or 0.0) < s.reserve_seconds + s.poll_initial_seconds:
                return self._pending_items(len(plan.table.rows))
            timing.sleep(s.poll_initial_seconds)
        info = self._info() or {"state": "Unknown"}
        if info.get("state") == "Open":  # never closed: abort it, nothing of it was processed
            aborted = self.abort() or info
            if aborted.get("state") == "Aborted":
                self._delivered()
                return [WriteOutcome(False, error=outcomes.error(
                    Code.UNKNOWN_EXCEPTION, f"Bulk API job {self.job_id} was never closed by the call that uploaded "
                    "it; sfdest aborted it and nothing was written for this record"))] * len(plan.table.rows)
            info = aborted
        return self._finish(self._wait(info, len(plan.table.rows)), plan.table)

    def _finish(self, info: dict[str, Any], table: Table) -> list[Item]:
        if self._pending:
            return self._pending_items(len(table.rows))
        items = self._collect(info, table)
        self._delivered()
        return items

    def _pending_items(self, count: int) -> list[Item]:
        if self._tracker is not None:
            self._tracker.disown(self.job_id)
        return [WriteOutcome(False, error=outcomes.error(
            Code.BULK_JOB_PENDING, f"Bulk API job {self.job_id} was still running when the call's deadline came; it "
            "keeps running: retry this event (same id, same action) to get its result, nothing is uploaded again",
            bulk_job_id=self.job_id))] * count

    def _delivered(self) -> None:
        """The job's results are answered (or nothing of it was written): core forgets it once they are recorded."""
        if self._tracker is not None and self._registered:
            self._tracker.disown(self.job_id)
            self._tracker.done(self.job_id)

    def upload_failure(self, error: ResultError) -> ResultError:
        """What an upload's failure means for its rows, once the job was aborted: nothing was written."""
        if error.code != Code.OUTCOME_UNKNOWN:
            return error
        return outcomes.error(Code.UNKNOWN_EXCEPTION, f"uploading the data of Bulk API job {self.job_id} failed "
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
            raise BackendError(outcomes.error(Code.UNKNOWN_EXCEPTION, "Salesforce created no Bulk API job (no job id)"))
        self.job_id = str(body["id"])

    def _on_job(self, method: str, path: str = "", body: Any = None, **options: Any) -> Any:
        """A request on the job once it exists. It finishes work Salesforce already started, so the API budget
        passes it as a call in flight (BudgetGate.finishing): refusing it would leave the job's records unanswered."""
        with self._session.budget.finishing():
            return self._session.request(method, f"{self._url}/{self.job_id}{path}", body, **options)

    def _job_json(self, method: str, body: Any = None) -> Any:
        """The job's info (GET) or its new state (PATCH `body`), as `_on_job` sends it."""
        with self._session.budget.finishing():
            return self._session.json(method, f"{self._url}/{self.job_id}", body)[1]

    def _info(self) -> dict[str, Any] | None:
        try:
            body = self._job_json("GET")
        except BackendError:
            return None
        return body if isinstance(body, dict) else None

    def _set_state(self, state: str) -> dict[str, Any] | None:
        try:
            body = self._job_json("PATCH", {"state": state})
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
                if self._out_of_time and self._registered and self._session.deadline is not None:
                    self._pending = True  # left running: a retry picks it up
                    return info
                return self.abort() or info
            if not self._sleep(delay):
                self._pending = True  # another replica took the job over (this one was too slow to renew)
                return info
            polled = self._info()
            failures = 0 if polled is not None else failures + 1
            info = polled or info
            delay = max(min(delay * 2, s.poll_max_seconds), _eta(info, rows, timing.clock() - started, s))
        return info

    def _sleep(self, seconds: float) -> bool:
        """Sleep, renewing the job's lease in slices when it is registered; False once the lease was lost."""
        if not self._registered or self._tracker is None:
            self._session.timing.sleep(seconds)
            return True
        step = max(0.05, self._tracker.lease_seconds / 3)
        while seconds > 0:
            self._session.timing.sleep(min(step, seconds))
            seconds -= step
            if not self._tracker.own(self.job_id):
                return False
        return True

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
            response = self._on_job("GET", f"/{kind}/", accept="text/csv")
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
            return WriteOutcome(False, error=outcomes.error(
                Code.DEADLINE_EXCEEDED, f"the call's deadline came before Bulk API job {self.job_id} processed this "
                "record; the job was aborted and nothing was written for it"))
        return WriteOutcome(False, error=outcomes.error(
            failed_job_code(said), f"Bulk API job {self.job_id} ended {state} before processing this record"
            f"{f' ({said})' if said else ''}; nothing was written for it"))


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
