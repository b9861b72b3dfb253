"""The one table of result codes: each code's status, outcome, retryability and wording, successes included.

Every EventResult sfdest decides is built here (`result`, `failure`), and every error of its own (`error`):
nowhere else does a code get its meaning. Which Salesforce answer means which code: core.salesforce_codes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from core.codes import Code
from core.model import EventResult, Outcome, ResultError
from core.paths import Path
from core.salesforce_codes import meant


@dataclass(frozen=True)
class Meaning:
    status: int
    outcome: Outcome
    retryable: bool
    # The canonical message ({name} placeholders filled by `error`); empty where each use says its own.
    wording: str = ""


_TABLE: dict[Code, Meaning] = {
    # Successes.
    Code.CREATED: Meaning(201, Outcome.CREATED, False),
    Code.UPDATED: Meaning(200, Outcome.UPDATED, False),
    Code.DELETED: Meaning(204, Outcome.DELETED, False),
    Code.NO_CHANGE: Meaning(204, Outcome.NO_CHANGE, False),
    Code.WOULD_CREATE: Meaning(201, Outcome.WOULD_CREATE, False),
    Code.WOULD_UPDATE: Meaning(200, Outcome.WOULD_UPDATE, False),
    Code.WOULD_DELETE: Meaning(204, Outcome.WOULD_DELETE, False),
    # sfdest's own checks of the request or the event.
    Code.INVALID_ACTION: Meaning(400, Outcome.INVALID, False, "the action is invalid: {count} error(s), listed "
                                 "once in the response's diagnostics"),
    Code.INVALID_EVENT: Meaning(400, Outcome.INVALID, False),
    Code.MATCHER_VALUE_MISSING: Meaning(400, Outcome.INVALID, False),
    Code.MATCHER_VALUE_INVALID: Meaning(400, Outcome.INVALID, False),
    Code.MAPPING_VALUE_INVALID: Meaning(400, Outcome.INVALID, False),
    Code.INVALID_ID: Meaning(400, Outcome.INVALID, False),
    Code.REQUIRED_VALUE_MISSING: Meaning(400, Outcome.INVALID, False),
    Code.PICKLIST_VALUE_INVALID: Meaning(400, Outcome.INVALID, False),
    Code.CURRENCY_NOT_ENABLED: Meaning(400, Outcome.INVALID, False),
    Code.INVALID_INSTANCE_URL: Meaning(400, Outcome.INVALID, False),
    Code.INVALID_CONNECTION: Meaning(400, Outcome.INVALID, False),
    Code.EVENT_TIMESTAMP_MISSING: Meaning(400, Outcome.INVALID, False),
    # Salesforce refusing the request shape.
    Code.MALFORMED_ID: Meaning(400, Outcome.INVALID, False),
    Code.MALFORMED_QUERY: Meaning(400, Outcome.INVALID, False),
    Code.INVALID_FIELD: Meaning(400, Outcome.INVALID, False),
    Code.INVALID_TYPE: Meaning(400, Outcome.INVALID, False),
    Code.JSON_PARSER_ERROR: Meaning(400, Outcome.INVALID, False),
    Code.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Meaning(400, Outcome.INVALID, False),
    Code.INVALID_CROSS_REFERENCE_KEY: Meaning(422, Outcome.REJECTED, False),
    # Matching.
    Code.MULTIPLE_MATCHES: Meaning(300, Outcome.AMBIGUOUS, False, "{count} {object_name} records match this "
                                   "event; nothing was written"),
    Code.PARENT_AMBIGUOUS: Meaning(300, Outcome.AMBIGUOUS, False),
    Code.MULTIPLE_DUPLICATES: Meaning(300, Outcome.AMBIGUOUS, False, "Salesforce's duplicate rules name {count} "
                                      "existing records; nothing was written"),
    Code.PARENT_NOT_FOUND: Meaning(422, Outcome.REJECTED, False),
    Code.NOT_FOUND: Meaning(404, Outcome.NOT_FOUND, False),
    Code.ENTITY_IS_DELETED: Meaning(404, Outcome.NOT_FOUND, False),
    # Duplicates.
    Code.DUPLICATE_VALUE: Meaning(409, Outcome.DUPLICATE, False),
    Code.DUPLICATES_DETECTED: Meaning(409, Outcome.DUPLICATE, False),
    Code.DUPLICATE_EXTERNAL_ID: Meaning(409, Outcome.DUPLICATE, False),
    # A converted Lead: Salesforce refuses its updates, and sfdest does not write it.
    Code.CANNOT_UPDATE_CONVERTED_LEAD: Meaning(409, Outcome.CONVERTED, False),
    Code.CONVERTED_LEAD: Meaning(409, Outcome.CONVERTED, False),
    # Locks, limits and transient faults.
    Code.UNABLE_TO_LOCK_ROW: Meaning(423, Outcome.ROW_LOCKED, True),
    Code.REQUEST_LIMIT_EXCEEDED: Meaning(429, Outcome.RATE_LIMITED, True),
    Code.API_BUDGET_EXHAUSTED: Meaning(429, Outcome.RATE_LIMITED, True),  # sfdest's budget for the org: nothing sent
    Code.SERVER_UNAVAILABLE: Meaning(503, Outcome.TRANSIENT_FAILURE, True),
    Code.UNKNOWN_EXCEPTION: Meaning(500, Outcome.TRANSIENT_FAILURE, True),
    Code.CONNECTION_ERROR: Meaning(503, Outcome.TRANSIENT_FAILURE, True),
    Code.TIMEOUT: Meaning(504, Outcome.TRANSIENT_FAILURE, True),
    Code.ALL_OR_NONE_OPERATION_ROLLED_BACK: Meaning(503, Outcome.TRANSIENT_FAILURE, True),
    # Nothing was sent: the call's deadline passed before this event's turn.
    Code.DEADLINE_EXCEEDED: Meaning(504, Outcome.NOT_ATTEMPTED, True),
    # Nothing was sent: the call was cancelled, or the server began stopping, before this event's turn.
    Code.CANCELLED: Meaning(503, Outcome.NOT_ATTEMPTED, True),
    # Nothing was sent: the shared coordination store (Redis) did not answer in time.
    Code.COORDINATION_UNAVAILABLE: Meaning(503, Outcome.NOT_ATTEMPTED, True, "the shared coordination store "
                                           "(Redis) did not answer in time"),
    # Nothing was sent: the event matches a record whose earlier write in this batch is of unknown outcome.
    Code.DEPENDS_ON_UNCERTAIN_WRITE: Meaning(504, Outcome.NOT_ATTEMPTED, True, "an earlier event of this batch "
                                             "wrote a record this event matches, and whether Salesforce applied "
                                             "it is unknown; nothing was written for this event"),
    Code.OUTCOME_UNKNOWN: Meaning(502, Outcome.UNCERTAIN, False),
    # Nothing was written by this attempt: an earlier attempt of the event is still running (and wrote nothing yet),
    # or took the event over from this one.
    Code.EVENT_IN_PROGRESS: Meaning(409, Outcome.NOT_ATTEMPTED, True),
    Code.EVENT_TAKEN_OVER: Meaning(409, Outcome.NOT_ATTEMPTED, True),
    # The write is in a Bulk API job still running at the call's deadline: a retry picks up its results.
    Code.BULK_JOB_PENDING: Meaning(202, Outcome.PENDING, True),
    # Nothing was written: newest_event_wins, and a newer event for the same record was applied (or is in the batch).
    Code.STALE_EVENT: Meaning(200, Outcome.STALE_SKIPPED, False, "a newer event for the same record was applied; "
                              "nothing was written for this one"),
    # Authentication and permissions.
    # Salesforce refused fresh sessions again and again (one may end between refresh and use): may pass.
    Code.INVALID_SESSION_ID: Meaning(401, Outcome.AUTH_FAILED, True),
    Code.AUTH_FAILED: Meaning(401, Outcome.AUTH_FAILED, False),
    Code.INVALID_GRANT: Meaning(401, Outcome.AUTH_FAILED, False),
    Code.INVALID_CLIENT: Meaning(401, Outcome.AUTH_FAILED, False),
    Code.API_DISABLED_FOR_ORG: Meaning(403, Outcome.FORBIDDEN, False),
    Code.API_CURRENTLY_DISABLED: Meaning(403, Outcome.FORBIDDEN, False),
    Code.INSUFFICIENT_ACCESS: Meaning(403, Outcome.FORBIDDEN, False),
    Code.INSUFFICIENT_ACCESS_OR_READONLY: Meaning(403, Outcome.FORBIDDEN, False),
    Code.INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY: Meaning(403, Outcome.FORBIDDEN, False),
    Code.FEATURENOTENABLED: Meaning(422, Outcome.REJECTED, False),
    # An HTTP status answered without an error body, named by sfdest: Salesforce refused the request.
    Code.BAD_REQUEST: Meaning(422, Outcome.REJECTED, False),
    Code.FORBIDDEN: Meaning(422, Outcome.REJECTED, False),
    Code.METHOD_NOT_ALLOWED: Meaning(422, Outcome.REJECTED, False),
    Code.URI_TOO_LONG: Meaning(422, Outcome.REJECTED, False),
    Code.REQUEST_HEADER_FIELDS_TOO_LARGE: Meaning(422, Outcome.REJECTED, False),
}
TABLE = MappingProxyType(_TABLE)
# Any other code Salesforce refuses a record with is a validation rejection (422, not retryable).
REJECTED = Meaning(422, Outcome.REJECTED, False)
SUCCESSES = frozenset(c for c, m in _TABLE.items() if m.outcome in (
    Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED, Outcome.NO_CHANGE, Outcome.WOULD_CREATE,
    Outcome.WOULD_UPDATE, Outcome.WOULD_DELETE))


def meaning(code: str, message: str = "") -> Meaning:
    """What a code means: the table's row of the code (or of what a Salesforce code means), else REJECTED."""
    ours = meant(code, message)
    return _TABLE[ours] if ours is not None else REJECTED


def classify(error: ResultError) -> tuple[int, Outcome, bool]:
    """Status, outcome and retryability of an error."""
    m = meaning(error.code, error.message)
    return m.status, m.outcome, m.retryable


def error(code: Code, detail: str = "", fields: tuple[str, ...] = (), *, retry_after_seconds: float = 0.0,
          paths: tuple[Path, ...] = (), bulk_job_id: str = "", **values: Any) -> ResultError:
    """An error of sfdest's own: the table's wording of `code` ({placeholders} from `values`), then `detail`
    after a semicolon; a code without wording says `detail` alone."""
    if code in SUCCESSES:
        raise ValueError(f"{code} is a success, not an error")
    wording = _TABLE[code].wording.format(**values)
    message = f"{wording}; {detail}" if wording and detail else wording or detail
    return ResultError(code, message, tuple(fields), retry_after_seconds=retry_after_seconds, paths=tuple(paths),
                       bulk_job_id=bulk_job_id)


def failure(event_id: str, error: ResultError, matched_ids: tuple[str, ...] = (), record_id: str = "") -> EventResult:
    """The result of an event that failed with `error` (one of sfdest's, or Salesforce's as read by core)."""
    status, outcome, retryable = classify(error)
    return EventResult(
        event_id=event_id,
        status=status,
        outcome=outcome,
        record_id=record_id,
        matched_ids=matched_ids,
        retryable=retryable,
        error=error,
        retry_after_seconds=error.retry_after_seconds if retryable else 0.0,
        bulk_job_id=error.bulk_job_id,
    )


def result(code: Code, event_id: str, detail: str = "", fields: tuple[str, ...] = (), *, record_id: str = "",
           matched_ids: tuple[str, ...] = (), **values: Any) -> EventResult:
    """The result `code` gives an event: a success (no error), or a failure with `error(code, detail, ...)`."""
    if code in SUCCESSES:
        m = _TABLE[code]
        return EventResult(event_id, m.status, m.outcome, record_id=record_id, matched_ids=matched_ids)
    return failure(event_id, error(code, detail, fields, **values), matched_ids, record_id)


def invalid(event_id: str, code: Code, message: str, fields: tuple[str, ...] = ()) -> EventResult:
    return result(code, event_id, message, fields)


def stale(event_id: str, winner: str) -> EventResult:
    """An event older than the newest one applied to its record: answered, not written."""
    return replace(result(Code.STALE_EVENT, event_id), winning_event_id=winner)
