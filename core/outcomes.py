"""The one table from error codes to per-event status, outcome and retryability."""

from __future__ import annotations

from dataclasses import replace

from core.model import EventResult, Outcome, ResultError

# code -> (status, outcome, retryable). Salesforce error codes and sfdest's own.
_TABLE: dict[str, tuple[int, Outcome, bool]] = {
    # sfdest's own validation of the request or the event.
    "INVALID_ACTION": (400, Outcome.INVALID, False),
    "INVALID_CROSS_REFERENCE_KEY": (422, Outcome.REJECTED, False),
    "INVALID_EVENT": (400, Outcome.INVALID, False),
    "MATCHER_VALUE_MISSING": (400, Outcome.INVALID, False),
    "MATCHER_VALUE_INVALID": (400, Outcome.INVALID, False),
    "MAPPING_VALUE_INVALID": (400, Outcome.INVALID, False),
    "INVALID_ID": (400, Outcome.INVALID, False),
    "REQUIRED_VALUE_MISSING": (400, Outcome.INVALID, False),
    "PICKLIST_VALUE_INVALID": (400, Outcome.INVALID, False),
    "CURRENCY_NOT_ENABLED": (400, Outcome.INVALID, False),
    "INVALID_INSTANCE_URL": (400, Outcome.INVALID, False),
    "INVALID_CONNECTION": (400, Outcome.INVALID, False),
    # Salesforce refusing the request shape.
    "MALFORMED_ID": (400, Outcome.INVALID, False),
    "MALFORMED_QUERY": (400, Outcome.INVALID, False),
    "INVALID_FIELD": (400, Outcome.INVALID, False),
    "INVALID_TYPE": (400, Outcome.INVALID, False),
    "JSON_PARSER_ERROR": (400, Outcome.INVALID, False),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": (400, Outcome.INVALID, False),
    # Matching.
    "MULTIPLE_MATCHES": (300, Outcome.AMBIGUOUS, False),
    "PARENT_AMBIGUOUS": (300, Outcome.AMBIGUOUS, False),
    "MULTIPLE_DUPLICATES": (300, Outcome.AMBIGUOUS, False),
    "PARENT_NOT_FOUND": (422, Outcome.REJECTED, False),
    "NOT_FOUND": (404, Outcome.NOT_FOUND, False),
    "ENTITY_IS_DELETED": (404, Outcome.NOT_FOUND, False),
    # Duplicates.
    "DUPLICATE_VALUE": (409, Outcome.DUPLICATE, False),
    "DUPLICATES_DETECTED": (409, Outcome.DUPLICATE, False),
    "DUPLICATE_EXTERNAL_ID": (409, Outcome.DUPLICATE, False),
    # A converted Lead: Salesforce refuses its updates, and sfdest does not write it.
    "CANNOT_UPDATE_CONVERTED_LEAD": (409, Outcome.CONVERTED, False),
    "CONVERTED_LEAD": (409, Outcome.CONVERTED, False),
    # Locks, limits and transient faults.
    "UNABLE_TO_LOCK_ROW": (423, Outcome.ROW_LOCKED, True),
    "REQUEST_LIMIT_EXCEEDED": (429, Outcome.RATE_LIMITED, True),
    "API_BUDGET_EXHAUSTED": (429, Outcome.RATE_LIMITED, True),  # sfdest's own budget for the org: nothing sent
    "SERVER_UNAVAILABLE": (503, Outcome.TRANSIENT_FAILURE, True),
    "UNKNOWN_EXCEPTION": (500, Outcome.TRANSIENT_FAILURE, True),
    "CONNECTION_ERROR": (503, Outcome.TRANSIENT_FAILURE, True),
    "TIMEOUT": (504, Outcome.TRANSIENT_FAILURE, True),
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": (503, Outcome.TRANSIENT_FAILURE, True),
    "DEADLINE_EXCEEDED": (504, Outcome.NOT_ATTEMPTED, True),
    # Nothing was sent: the call was cancelled, or the server began stopping, before this event's turn.
    "CANCELLED": (503, Outcome.NOT_ATTEMPTED, True),
    # Nothing was sent: the shared coordination store (Redis) did not answer in time.
    "COORDINATION_UNAVAILABLE": (503, Outcome.NOT_ATTEMPTED, True),
    # Nothing was sent: the event matches a record whose earlier write in this batch is of unknown outcome.
    "DEPENDS_ON_UNCERTAIN_WRITE": (504, Outcome.NOT_ATTEMPTED, True),
    "OUTCOME_UNKNOWN": (502, Outcome.UNCERTAIN, False),
    # Nothing was written by this attempt: an earlier attempt of the event is still running (and wrote nothing yet),
    # or took the event over from this one.
    "EVENT_IN_PROGRESS": (409, Outcome.NOT_ATTEMPTED, True),
    "EVENT_TAKEN_OVER": (409, Outcome.NOT_ATTEMPTED, True),
    # The write is in a Bulk API job still running at the call's deadline: a retry picks up its results.
    "BULK_JOB_PENDING": (202, Outcome.PENDING, True),
    # Nothing was written: newest_event_wins, and a newer event for the same record was applied (or is in the batch).
    "STALE_EVENT": (200, Outcome.STALE_SKIPPED, False),
    "EVENT_TIMESTAMP_MISSING": (400, Outcome.INVALID, False),
    # Authentication and permissions.
    # Salesforce refused fresh sessions again and again (one may end between refresh and use): may pass.
    "INVALID_SESSION_ID": (401, Outcome.AUTH_FAILED, True),
    "AUTH_FAILED": (401, Outcome.AUTH_FAILED, False),
    "INVALID_GRANT": (401, Outcome.AUTH_FAILED, False),
    "INVALID_CLIENT": (401, Outcome.AUTH_FAILED, False),
    "API_DISABLED_FOR_ORG": (403, Outcome.FORBIDDEN, False),
    "API_CURRENTLY_DISABLED": (403, Outcome.FORBIDDEN, False),
    "INSUFFICIENT_ACCESS": (403, Outcome.FORBIDDEN, False),
    "INSUFFICIENT_ACCESS_OR_READONLY": (403, Outcome.FORBIDDEN, False),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": (403, Outcome.FORBIDDEN, False),
}
# Anything else Salesforce refuses a record for is a validation rejection (422, not retryable).
_REJECTED = (422, Outcome.REJECTED, False)


def classify(error: ResultError) -> tuple[int, Outcome, bool]:
    """Status, outcome and retryability of an error code."""
    if error.code == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY" and "UNABLE_TO_LOCK_ROW" in error.message:
        return _TABLE["UNABLE_TO_LOCK_ROW"]
    return _TABLE.get(error.code, _REJECTED)


def failure(event_id: str, error: ResultError, matched_ids: tuple[str, ...] = (), record_id: str = "") -> EventResult:
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


def invalid(event_id: str, code: str, message: str, fields: tuple[str, ...] = ()) -> EventResult:
    return failure(event_id, ResultError(code, message, fields))


def stale(event_id: str, winner: str) -> EventResult:
    """An event older than the newest one applied to its record: answered, not written."""
    return replace(failure(event_id, ResultError("STALE_EVENT", "a newer event for the same record was applied; "
                                                 "nothing was written for this one")), winning_event_id=winner)
