"""sfdest's vocabulary of per-event result codes: every code an EventResult (or its error) can carry.

A code's value is the string hosts see (`ResultError.code` on the wire; public API: never renamed). What each
code means (status, outcome, retryability, wording) is in one table, core.outcomes. Salesforce's own error codes
that sfdest passes on by name are members too; any other code Salesforce sends is passed on as it came and
means a rejection (422). Which Salesforce answer means which code is core.salesforce_answers's to say.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # Successes (their results carry no error; the code names the row of the table they come from).
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    NO_CHANGE = "NO_CHANGE"
    WOULD_CREATE = "WOULD_CREATE"
    WOULD_UPDATE = "WOULD_UPDATE"
    WOULD_DELETE = "WOULD_DELETE"
    # sfdest's own checks of the request or the event.
    INVALID_ACTION = "INVALID_ACTION"
    INVALID_EVENT = "INVALID_EVENT"
    MATCHER_VALUE_MISSING = "MATCHER_VALUE_MISSING"
    MATCHER_VALUE_INVALID = "MATCHER_VALUE_INVALID"
    MAPPING_VALUE_INVALID = "MAPPING_VALUE_INVALID"
    INVALID_ID = "INVALID_ID"
    REQUIRED_VALUE_MISSING = "REQUIRED_VALUE_MISSING"
    PICKLIST_VALUE_INVALID = "PICKLIST_VALUE_INVALID"
    CURRENCY_NOT_ENABLED = "CURRENCY_NOT_ENABLED"
    INVALID_INSTANCE_URL = "INVALID_INSTANCE_URL"
    INVALID_CONNECTION = "INVALID_CONNECTION"
    EVENT_TIMESTAMP_MISSING = "EVENT_TIMESTAMP_MISSING"
    # Salesforce refusing the request's shape.
    MALFORMED_ID = "MALFORMED_ID"
    MALFORMED_QUERY = "MALFORMED_QUERY"
    INVALID_FIELD = "INVALID_FIELD"
    INVALID_TYPE = "INVALID_TYPE"
    JSON_PARSER_ERROR = "JSON_PARSER_ERROR"
    INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    INVALID_CROSS_REFERENCE_KEY = "INVALID_CROSS_REFERENCE_KEY"
    # Matching.
    MULTIPLE_MATCHES = "MULTIPLE_MATCHES"
    PARENT_AMBIGUOUS = "PARENT_AMBIGUOUS"
    MULTIPLE_DUPLICATES = "MULTIPLE_DUPLICATES"
    PARENT_NOT_FOUND = "PARENT_NOT_FOUND"
    NOT_FOUND = "NOT_FOUND"
    ENTITY_IS_DELETED = "ENTITY_IS_DELETED"
    # Duplicates.
    DUPLICATE_VALUE = "DUPLICATE_VALUE"
    DUPLICATES_DETECTED = "DUPLICATES_DETECTED"
    DUPLICATE_EXTERNAL_ID = "DUPLICATE_EXTERNAL_ID"
    # Converted Leads.
    CANNOT_UPDATE_CONVERTED_LEAD = "CANNOT_UPDATE_CONVERTED_LEAD"
    CONVERTED_LEAD = "CONVERTED_LEAD"
    # Locks, limits and transient faults.
    UNABLE_TO_LOCK_ROW = "UNABLE_TO_LOCK_ROW"
    REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
    API_BUDGET_EXHAUSTED = "API_BUDGET_EXHAUSTED"
    SERVER_UNAVAILABLE = "SERVER_UNAVAILABLE"
    UNKNOWN_EXCEPTION = "UNKNOWN_EXCEPTION"
    CONNECTION_ERROR = "CONNECTION_ERROR"
    TIMEOUT = "TIMEOUT"
    ALL_OR_NONE_OPERATION_ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    # Nothing was sent.
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    CANCELLED = "CANCELLED"
    COORDINATION_UNAVAILABLE = "COORDINATION_UNAVAILABLE"
    DEPENDS_ON_UNCERTAIN_WRITE = "DEPENDS_ON_UNCERTAIN_WRITE"
    # A write that may or may not have happened.
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
    # Idempotent events: an earlier attempt still runs, or took the event over (nothing written by this one).
    EVENT_IN_PROGRESS = "EVENT_IN_PROGRESS"
    EVENT_TAKEN_OVER = "EVENT_TAKEN_OVER"
    # The write is in a Bulk API job still running at the call's deadline.
    BULK_JOB_PENDING = "BULK_JOB_PENDING"
    # newest_event_wins: a newer event for the record was applied.
    STALE_EVENT = "STALE_EVENT"
    # Authentication and permissions.
    INVALID_SESSION_ID = "INVALID_SESSION_ID"
    AUTH_FAILED = "AUTH_FAILED"
    INVALID_GRANT = "INVALID_GRANT"
    INVALID_CLIENT = "INVALID_CLIENT"
    API_DISABLED_FOR_ORG = "API_DISABLED_FOR_ORG"
    API_CURRENTLY_DISABLED = "API_CURRENTLY_DISABLED"
    INSUFFICIENT_ACCESS = "INSUFFICIENT_ACCESS"
    INSUFFICIENT_ACCESS_OR_READONLY = "INSUFFICIENT_ACCESS_OR_READONLY"
    INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY = "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
    # A hardDelete job for a user without the "Bulk API Hard Delete" permission (Erase falls back to the bin).
    FEATURENOTENABLED = "FEATURENOTENABLED"
    # An HTTP status Salesforce answered with no error body: sfdest names the status (HTTP_<n> for others).
    BAD_REQUEST = "BAD_REQUEST"
    FORBIDDEN = "FORBIDDEN"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    URI_TOO_LONG = "URI_TOO_LONG"
    REQUEST_HEADER_FIELDS_TOO_LARGE = "REQUEST_HEADER_FIELDS_TOO_LARGE"
