"""Bulk API 2.0 ingest: jobs, CSV upload, the state machine, and result CSVs in shuffled order."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.memory.ids import IdFactory
from adapters.memory.org import salesforce_now
from adapters.memory.results import HARD_DELETE_REFUSED, OrgError
from tools.emulator import bulk_csv
from tools.emulator.limits import job_batches
from tools.emulator.wire import ApiError, Reply, not_found

if TYPE_CHECKING:
    from tools.emulator.routes import Call
    from tools.emulator.server import Emulator

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class Job:
    id: str
    object: str
    operation: str
    external_id: str
    line_ending: str
    delimiter: str
    api_version: str
    created: str
    created_by: str
    state: str = "Open"
    uploads: list[str] = field(default_factory=list)
    polls_left: int = 1
    uploaded_at: float = 0.0  # time.monotonic() at UploadComplete
    progress: int = 0  # records processed so far, while InProgress under a latency model
    processing: bool = False  # its rows are being applied (latency model)
    error: str = ""
    outcome: bulk_csv.Outcome | None = None

    def _head(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object, "createdById": self.created_by,
            "createdDate": self.created, "systemModstamp": self.created, "state": self.state}
        if self.external_id:
            out["externalIdFieldName"] = self.external_id
        out.update({"concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(self.api_version)})
        return out

    def created_info(self) -> dict[str, Any]:
        """The answer to creating the job: where to upload, and the CSV format."""
        return {**self._head(), "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
                "lineEnding": self.line_ending, "columnDelimiter": self.delimiter}

    def changed_info(self) -> dict[str, Any]:
        """The answer to closing or aborting the job: the job's head only."""
        return self._head()

    def info(self) -> dict[str, Any]:
        """GET of the job: the head, the format and the processing figures (errorMessage when Failed)."""
        processed = self.outcome.processed if self.outcome else self.progress
        failed = len(self.outcome.failed) if self.outcome else 0
        out: dict[str, Any] = {
            **self._head(), "jobType": "V2Ingest", "lineEnding": self.line_ending, "columnDelimiter": self.delimiter,
            "numberRecordsProcessed": processed, "numberRecordsFailed": failed, "retries": 0,
            "totalProcessingTime": 0, "apiActiveProcessingTime": 0, "apexProcessingTime": 0}
        if self.error:
            out["errorMessage"] = self.error
        return out


class Jobs:
    """The emulator's ingest jobs; ids start with 750."""

    def __init__(self, polls_to_complete: int = 1, seed: int = 1234):
        self.lock = threading.RLock()
        self.ids = IdFactory()
        self.jobs: dict[str, Job] = {}
        self.polls_to_complete = polls_to_complete
        self.seed = seed
        self.row_copies: Counter[str] = Counter()  # each uploaded data line, by its text: how often it came

    @property
    def rows_uploaded(self) -> int:
        """Data rows uploaded to every job so far."""
        with self.lock:
            return sum(self.row_copies.values())

    @property
    def rows_uploaded_twice(self) -> int:
        """Uploads of a data line already uploaded before (to this job or another): a row sent again."""
        with self.lock:
            return sum(n - 1 for n in self.row_copies.values() if n > 1)

    def rows_of(self, job_id: str) -> int:
        """The data rows uploaded to one job."""
        with self.lock:
            return _rows(self.get(job_id))

    def count(self, upload: str) -> None:
        self.row_copies.update(line for line in upload.splitlines()[1:] if line)

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found()
        return job


def _state_error(job: Job) -> ApiError:
    return ApiError(409, "INVALIDJOBSTATE", f"Job {job.id} is in state {job.state}; the operation is not allowed")


def create(emu: Emulator, call: Call) -> Reply:
    body = call.req.json()
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = body.get("operation")
    if operation not in OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    try:
        obj = emu.org.describe(str(body.get("object") or "")).name
    except OrgError:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Unable to find object: {body.get('object')}") from None
    if operation == "hardDelete" and not emu.org.hard_delete_allowed:
        raise ApiError(400, "FEATURENOTENABLED", HARD_DELETE_REFUSED)
    external = str(body.get("externalIdFieldName") or "")
    if operation == "upsert" and not external:
        raise ApiError(400, "INVALIDJOB", "InvalidJob : External ID field is required for upsert")
    line_ending = body.get("lineEnding", "LF")
    delimiter = body.get("columnDelimiter", "COMMA")
    if body.get("contentType", "CSV") != "CSV" or line_ending not in ("LF", "CRLF") or \
            delimiter not in bulk_csv.DELIMITERS:
        raise ApiError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV, lineEnding LF or CRLF, and "
                       f"columnDelimiter one of {', '.join(bulk_csv.DELIMITERS)}")
    with emu.bulk.lock:
        job = Job(emu.bulk.ids.new_id("750"), obj, operation, external if operation == "upsert" else "",
                  line_ending, delimiter, call.version, salesforce_now(), emu.org.owner_id)
        emu.bulk.jobs[job.id] = job
    return Reply.json(200, job.created_info())


def upload(emu: Emulator, call: Call) -> Reply:
    ctype = call.req.header("content-type").split(";")[0].strip().lower()
    if ctype != "text/csv":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"MediaType of '{ctype}' is not supported by this resource")
    with emu.bulk.lock:
        job = emu.bulk.get(call.params["job"])
        if job.state != "Open":
            raise _state_error(job)
        job.uploads.append(call.req.body.decode("utf-8"))
        emu.bulk.count(job.uploads[-1])
    return Reply.empty(201)


def _process_later(emu: Emulator, job: Job) -> None:
    outcome = bulk_csv.process(emu.org, job, random.Random(f"{emu.bulk.seed}:{job.id}"))
    with emu.bulk.lock:
        if job.state == "InProgress":
            job.outcome, job.error = outcome, outcome.error
            job.state = "Failed" if outcome.error else "JobComplete"


def _process(emu: Emulator, job: Job) -> None:
    job.outcome = bulk_csv.process(emu.org, job, random.Random(f"{emu.bulk.seed}:{job.id}"))
    job.error = job.outcome.error
    job.state = "Failed" if job.outcome.error else "JobComplete"


def set_state(emu: Emulator, call: Call) -> Reply:
    body = call.req.json()
    wanted = body.get("state") if isinstance(body, dict) else None
    with emu.bulk.lock:
        job = emu.bulk.get(call.params["job"])
        if wanted == "UploadComplete" and job.state == "Open":
            job.state = "UploadComplete"
            emu.usage.count_batches(job_batches(_rows(job)))  # one batch per 10,000 records, charged on close
            job.polls_left = emu.bulk.polls_to_complete
            job.uploaded_at = time.monotonic()
            reply = Reply.json(200, job.changed_info())
            if job.polls_left <= 0:
                _process(emu, job)
            return reply
        if wanted == "Aborted" and job.state not in TERMINAL:
            job.state = "Aborted"
            return Reply.json(200, job.changed_info())
        if wanted not in ("UploadComplete", "Aborted"):
            raise ApiError(400, "INVALIDJOBSTATE", f"Invalid state: {wanted}")
        raise _state_error(job)


def info(emu: Emulator, call: Call) -> Reply:
    with emu.bulk.lock:
        job = emu.bulk.get(call.params["job"])
        if job.state in ("UploadComplete", "InProgress"):
            job.polls_left -= 1
            total = _rows(job)
            if emu.latency is not None:  # the job takes time in proportion to its records
                job.progress = emu.latency.bulk_processed(total, time.monotonic() - job.uploaded_at)
            if job.polls_left <= 0 and emu.latency is None:
                _process(emu, job)
            else:
                if emu.latency is not None and job.polls_left <= 0 and job.progress >= total and not job.processing:
                    job.processing = True  # applied in the background: polls keep answering InProgress meanwhile
                    threading.Thread(target=_process_later, args=(emu, job), daemon=True).start()
                job.state = "InProgress"
        return Reply.json(200, job.info())


def _rows(job: Job) -> int:
    """The data rows uploaded (a header line per upload; a quoted line break may count one more)."""
    return sum(max(0, u.count("\n") - 1 + (0 if u.endswith("\n") else 1)) for u in job.uploads)


def list_jobs(emu: Emulator, call: Call) -> Reply:
    with emu.bulk.lock:
        records = [j.info() for j in emu.bulk.jobs.values()]
    return Reply.json(200, {"done": True, "records": records, "nextRecordsUrl": None})


def delete(emu: Emulator, call: Call) -> Reply:
    with emu.bulk.lock:
        job = emu.bulk.get(call.params["job"])
        if job.state not in TERMINAL:
            raise _state_error(job)
        del emu.bulk.jobs[job.id]
    return Reply.empty(204)


def results(emu: Emulator, call: Call) -> Reply:
    with emu.bulk.lock:
        job = emu.bulk.get(call.params["job"])
        if job.state not in TERMINAL:
            raise _state_error(job)
        text = bulk_csv.result_csv(job, call.params["result"])
    return Reply(200, text.encode(), {"Content-Type": "text/csv"})
