"""The one table of Salesforce's error codes and what each means to sfdest (a Code of core.codes).

Salesforce's codes named here are passed on to hosts by name and mean the Code of that name, except where a
rule below reads the code with its message. A code Salesforce sends that is in neither this table nor sfdest's
vocabulary is passed on as it came and means a rejection (core.outcomes.REJECTED).
"""

from __future__ import annotations

from types import MappingProxyType

from core.codes import Code

SALESFORCE = MappingProxyType({code.value: code for code in (
    # The request's shape.
    Code.MALFORMED_ID, Code.MALFORMED_QUERY, Code.INVALID_FIELD, Code.INVALID_TYPE, Code.JSON_PARSER_ERROR,
    Code.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, Code.INVALID_CROSS_REFERENCE_KEY,
    # No such record.
    Code.NOT_FOUND, Code.ENTITY_IS_DELETED,
    # Duplicates, converted Leads.
    Code.DUPLICATE_VALUE, Code.DUPLICATES_DETECTED, Code.DUPLICATE_EXTERNAL_ID, Code.CANNOT_UPDATE_CONVERTED_LEAD,
    # Locks, limits, faults.
    Code.UNABLE_TO_LOCK_ROW, Code.REQUEST_LIMIT_EXCEEDED, Code.SERVER_UNAVAILABLE, Code.UNKNOWN_EXCEPTION,
    Code.ALL_OR_NONE_OPERATION_ROLLED_BACK,
    # Sessions and permissions.
    Code.INVALID_SESSION_ID, Code.API_DISABLED_FOR_ORG, Code.API_CURRENTLY_DISABLED, Code.INSUFFICIENT_ACCESS,
    Code.INSUFFICIENT_ACCESS_OR_READONLY, Code.INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY, Code.FEATURENOTENABLED,
)})
# A Bulk API job that failed for want of a permission says so only in its errorMessage.
_NOT_PERMITTED_TEXT = ("featurenotenabled", "requires special user profile permission")
# A trigger's DML failing on a locked row: Salesforce wraps UNABLE_TO_LOCK_ROW in this code (kept on the wire).
TRIGGER_FAILED = "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
# An upsert by a key that several records hold (single-record REST answers HTTP 300 with the ids).
SEVERAL_BY_KEY = frozenset({Code.DUPLICATE_EXTERNAL_ID.value, "MULTIPLE_CHOICES"})

# Salesforce answers HTTP statuses without an error body; sfdest names them so (HTTP_<n> for the rest).
_STATUS_CODES = MappingProxyType({
    400: Code.BAD_REQUEST, 401: Code.INVALID_SESSION_ID, 403: Code.FORBIDDEN, 404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED, 414: Code.URI_TOO_LONG, 431: Code.REQUEST_HEADER_FIELDS_TOO_LARGE,
    420: Code.SERVER_UNAVAILABLE, 500: Code.UNKNOWN_EXCEPTION, 502: Code.SERVER_UNAVAILABLE,
    503: Code.SERVER_UNAVAILABLE, 504: Code.TIMEOUT,
})


# The OAuth errors of Salesforce's token endpoint; any other means AUTH_FAILED.
_OAUTH = MappingProxyType({
    "invalid_grant": Code.INVALID_GRANT, "invalid_client": Code.INVALID_CLIENT,
    "invalid_client_id": Code.INVALID_CLIENT, "rate_limit_exceeded": Code.REQUEST_LIMIT_EXCEEDED,
})


def oauth_code(error_name: str) -> Code:
    """The Code of an OAuth `error` the token endpoint answered."""
    return _OAUTH.get(error_name, Code.AUTH_FAILED)


def meant(code: str, message: str = "") -> Code | None:
    """The Code a code means: Salesforce's (by this table and its rules) or sfdest's own; None for a code sfdest
    does not know (a rejection)."""
    if code == TRIGGER_FAILED and Code.UNABLE_TO_LOCK_ROW.value in (message or ""):
        return Code.UNABLE_TO_LOCK_ROW
    if code in SALESFORCE:
        return SALESFORCE[code]
    try:
        return Code(code)
    except ValueError:
        return None


def is_row_lock(code: str, message: str = "") -> bool:
    return meant(code, message) is Code.UNABLE_TO_LOCK_ROW


def is_daily_limit(code: str, message: str) -> bool:
    """REQUEST_LIMIT_EXCEEDED for the org's daily request allocation (not the concurrent long-request limit)."""
    return code == Code.REQUEST_LIMIT_EXCEEDED and "concurrent" not in (message or "").lower()


def is_concurrent_limit(code: str, message: str) -> bool:
    """REQUEST_LIMIT_EXCEEDED for too many concurrent long requests: it passes as they end."""
    return code == Code.REQUEST_LIMIT_EXCEEDED and "concurrent" in (message or "").lower()


def failed_job_code(error_message: str) -> Code:
    """The Code of a record a Bulk API job ended without processing, by the job's errorMessage."""
    text = (error_message or "").lower()
    return Code.FEATURENOTENABLED if any(t in text for t in _NOT_PERMITTED_TEXT) else Code.UNKNOWN_EXCEPTION


def status_code(status: int) -> str:
    """The code of an HTTP status Salesforce answered without an error body."""
    return _STATUS_CODES.get(status) or f"HTTP_{status}"
