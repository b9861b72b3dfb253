"""A store's link to the shared register of running Bulk API jobs (core.coordination.BulkJobs).

A job whose records carry event keys (the events' idempotency keys) is registered right after it is created,
before any upload: its id, operation, the uploaded table and which events each row holds. The replica polling
it owns it (a short lease it renews between polls); when that replica dies, or its call's deadline comes first
(the events are answered BULK_JOB_PENDING), a retry of those events on any replica takes the lease, polls on
and ties the job's results back from the registered table: nothing is uploaded again. Once the results were
delivered and recorded, core forgets the job.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.salesforce.bulk_csv import Table
from core.coordination import BulkJobs, CoordinationUnavailable, org_key


@dataclass(frozen=True)
class JobPlan:
    """What a replica needs to pick up a job: the job, its operation, the uploaded table, each row's events."""

    job_id: str
    object_name: str
    op: str
    external_id_field: str
    table: Table
    tags: tuple[tuple[str, ...], ...]

    def dumps(self) -> str:
        return json.dumps({"id": self.job_id, "object": self.object_name, "op": self.op,
                           "external": self.external_id_field, "header": self.table.header,
                           "rows": self.table.rows, "tags": self.tags}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> JobPlan:
        data = json.loads(text)
        return cls(data["id"], data["object"], data["op"], data["external"],
                   Table(list(data["header"]), [tuple(r) for r in data["rows"]]), tuple(map(tuple, data["tags"])))


@dataclass
class BulkTracker:
    """One store's use of the shared register: `delivered` lists the jobs whose results this store answered."""

    jobs: BulkJobs
    instance_url: str
    lease_seconds: float = 15.0
    window_seconds: float = 86_400.0
    delivered: list[str] = field(default_factory=list)
    holder: str = field(default_factory=lambda: secrets.token_hex(8))

    def key(self, job_id: str) -> str:
        return hashlib.sha256(f"{org_key(self.instance_url)}:{job_id}".encode()).hexdigest()

    def register(self, plan: JobPlan) -> bool:
        """Register the job and take its lease; False (the job is then run as before: aborted at the deadline)
        when the coordination store does not answer."""
        events = sorted({key for tags in plan.tags for key in tags})
        try:
            self.jobs.register(self.key(plan.job_id), plan.dumps(), events, self.window_seconds)
            return self.jobs.own(self.key(plan.job_id), self.holder, self.lease_seconds)
        except CoordinationUnavailable:
            return False

    def load(self, job_key: str) -> JobPlan | None:
        text = self.jobs.load(job_key)
        return JobPlan.loads(text) if text is not None else None

    def own(self, job_id: str) -> bool:
        """Take or renew the job's lease. A store that does not answer cannot grant it to anyone else either."""
        try:
            return self.jobs.own(self.key(job_id), self.holder, self.lease_seconds)
        except CoordinationUnavailable:
            return True

    def disown(self, job_id: str) -> None:
        try:
            self.jobs.disown(self.key(job_id), self.holder)
        except CoordinationUnavailable:
            pass  # the lease expires on its own

    def done(self, job_id: str) -> None:
        self.delivered.append(self.key(job_id))


def tags_complete(tags: Sequence[tuple[str, ...]] | None, count: int) -> bool:
    return tags is not None and len(tags) == count and all(tags)
