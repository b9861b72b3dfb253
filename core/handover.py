"""Picking up long-running writes another call left running: a Bulk API job whose replica died, or whose call's
deadline came first (its events answered 202 PENDING). A retry of those events (same ids, same action), on any
replica, finds the job in the shared register (core.coordination.BulkJobs) and answers from its results:
nothing is written again. Once the results are recorded (core.idempotency), the job is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core import outcomes
from core.codes import Code
from core.coordination import BulkJobs, CoordinationUnavailable
from core.idempotency import event_key
from core.model import Action, Connection, Event, EventResult, ResultError
from core.outcomes import failure
from core.ports import BackendError, RecordStore, StoreFactory, WriteOutcome
from core.salesforce_answers import read, unexplained

_SUCCESS = {"create": Code.CREATED, "update": Code.UPDATED, "delete": Code.DELETED}


@dataclass
class PickedUp:
    results: dict[int, EventResult] = field(default_factory=dict)  # by index in the Apply's events
    jobs: tuple[str, ...] = ()  # jobs whose every event was answered here: forgotten once recorded
    api_calls: int = 0


def resumed_result(event_id: str, kind: str, outcome: WriteOutcome, folded: bool, object_name: str = ""
                   ) -> EventResult:
    """An event's result from its row of a job (what Salesforce said, read by core); `folded`: a later event
    merged into the row's write (an update of the record the row wrote)."""
    outcome = read(outcome, kind, object_name)
    if not outcome.success:
        return failure(event_id, outcome.error or unexplained(), outcome.matched_ids)
    if folded:
        return outcomes.result(Code.UPDATED, event_id, record_id=outcome.id)
    code = (Code.CREATED if outcome.created else Code.UPDATED) if kind == "upsert" else _SUCCESS[kind]
    return outcomes.result(code, event_id, record_id=outcome.id)


def unreachable(event_id: str, error: ResultError) -> EventResult:
    """An event held by a registered job that could not be picked up now: still pending (its claim is kept)."""
    return outcomes.result(Code.BULK_JOB_PENDING, event_id, f"this event is in a Bulk API job an earlier attempt "
                           f"left running, which could not be picked up now ({error.code}); retry this event (same "
                           "id, same action): nothing is uploaded again")


def pick_up(jobs: BulkJobs, stores: StoreFactory, connection: Connection, action: Action, events: Sequence[Event],
            candidates: Sequence[int], deadline: float | None, stop: Callable[[], bool] | None) -> PickedUp:
    """The results of the candidate events that a registered job holds, from that job."""
    indexes: dict[str, list[int]] = {}
    for i in candidates:
        indexes.setdefault(event_key(connection.instance_url, action, events[i].id), []).append(i)
    try:
        found = jobs.find(list(indexes))
    except CoordinationUnavailable:
        return PickedUp()  # the events are answered as they would be without a register (PENDING: UNCERTAIN)
    if not found:
        return PickedUp()
    picked, complete = PickedUp(), []
    try:
        store: RecordStore = stores.open(connection, deadline, stop=stop)
    except BackendError as exc:
        return PickedUp({i: unreachable(events[i].id, exc.error) for key in found for i in indexes[key]})
    for job in sorted(set(found.values())):
        try:
            rows = store.resume_bulk(job)
        except (BackendError, CoordinationUnavailable) as exc:
            error = exc.error if isinstance(exc, BackendError) else outcomes.error(Code.COORDINATION_UNAVAILABLE,
                                                                                    str(exc))
            picked.results.update((i, unreachable(events[i].id, error)) for key, j in found.items() if j == job
                                  for i in indexes[key])
            continue
        for tags, kind, outcome in rows:
            for n, tag in enumerate(tags):
                for i in indexes.get(tag, ()):
                    picked.results[i] = resumed_result(events[i].id, kind, outcome, n > 0, action.object_name)
        if rows and all(tag in indexes for tags, _, _ in rows for tag in tags):
            complete.append(job)
    delivered = set(store.delivered_bulk_jobs)
    picked.jobs = tuple(job for job in complete if job in delivered)
    picked.api_calls = store.api_calls
    return picked
