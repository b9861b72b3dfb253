"""Domain types: actions, events, connections, results and diagnostics."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.paths import ACTION, NOWHERE, RECORD_MATCHERS, Path

# A scalar a matcher or a mapping may carry. Dates and datetimes travel as ISO strings.
Scalar = str | int | float | bool | None


class Operation(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"


class MatcherOperator(enum.Enum):
    OR = "OR"
    AND = "AND"


class Preset(enum.Enum):
    LEAD = "Lead"
    CONTACT = "Contact"
    ACCOUNT = "Account"
    OPPORTUNITY = "Opportunity"
    CASE = "Case"
    PERSON_ACCOUNT = "PersonAccount"


@dataclass(frozen=True)
class ValueSource:
    """A literal, or an ordered list of event paths where the first present value wins."""

    paths: tuple[str, ...] = ()
    literal: Any = None
    is_literal: bool = False

    @classmethod
    def of_literal(cls, value: Any) -> ValueSource:
        return cls(literal=value, is_literal=True)

    @classmethod
    def of_path(cls, *paths: str) -> ValueSource:
        return cls(paths=tuple(paths))

    def describe(self) -> str:
        if self.is_literal:
            return f"literal {self.literal!r}"
        return " else ".join(self.paths) or "(no path)"


@dataclass(frozen=True)
class RecordMatcher:
    field: str
    value: ValueSource


@dataclass(frozen=True)
class ParentKey:
    """Set a lookup from its parent's key: the parent's external id or idLookup field, and the parent object
    (needed for a polymorphic lookup such as WhatId; else taken from describe)."""

    key_field: str
    object_name: str = ""


@dataclass(frozen=True)
class MatcherGroup:
    """Matchers tried together (one operator); a fallback group is tried when the groups before it find nothing."""

    matchers: tuple[RecordMatcher, ...]
    operator: MatcherOperator | None = None

    @property
    def effective_operator(self) -> MatcherOperator:
        return self.operator or MatcherOperator.OR


class MatchPolicy(enum.Enum):
    """What several matching records mean: a 300 (default), or the one record (or all) a rule picks."""

    OLDEST = "OLDEST"  # smallest CreatedDate
    NEWEST = "NEWEST"  # greatest CreatedDate
    LAST_MODIFIED = "LAST_MODIFIED"  # greatest LastModifiedDate
    ALL = "ALL"  # every match (update and delete only)


class ConvertedLeadPolicy(enum.Enum):
    """What a match on converted Leads only means (converted Leads cannot be updated)."""

    REPORT = "REPORT"  # no write; 409 CONVERTED naming the Contact (the default for Lead actions)
    FOLLOW = "FOLLOW"  # write the mapped fields Contact has to the converted Contact (update, upsert)
    IGNORE = "IGNORE"  # converted Leads do not match


@dataclass(frozen=True)
class FieldMapping:
    field: str
    value: ValueSource
    parent: ParentKey | None = None


@dataclass(frozen=True)
class DuplicateRuleHeader:
    """Salesforce's duplicate-rule header: save despite a duplicate-rule alert, return the duplicates' details,
    run the rules as the current user."""

    allow_save: bool = False
    include_record_details: bool = False
    run_as_current_user: bool = False


# Assignment rule options (Lead and Case): the org's default rule, no rule, or a rule id (01Q...).
ASSIGNMENT_DEFAULT = "default"
ASSIGNMENT_NONE = "none"


@dataclass(frozen=True)
class Action:
    object_name: str
    operation: Operation | None
    record_matchers: tuple[RecordMatcher, ...] = ()
    matcher_operator: MatcherOperator | None = None
    field_mappings: tuple[FieldMapping, ...] = ()
    preset: Preset | None = None
    # A record type by DeveloperName, written when a record is created.
    record_type: str = ""
    duplicate_rule: DuplicateRuleHeader | None = None
    # On DUPLICATES_DETECTED naming one duplicate, update that record instead of creating (200 with its id).
    adopt_duplicate: bool = False
    assignment_rule: str = ""  # "" sends no header (Salesforce's default applies)
    # Enum values the host sent that this version does not know, as (field path, raw value, the valid values
    # as the host names them).
    unknown_enum_values: tuple[tuple[Path, int, tuple[str, ...]], ...] = ()
    # The IANA time zone of event datetimes that carry no UTC offset; empty: such datetimes are refused.
    naive_datetime_time_zone: str = ""
    # Newest event wins (core.ordering): per record key, an event older than the newest applied is skipped.
    newest_event_wins: bool = False
    # Matcher groups tried in order after record_matchers find nothing (a cascade).
    fallback_matchers: tuple[MatcherGroup, ...] = ()
    match_policy: MatchPolicy | None = None
    converted_leads: ConvertedLeadPolicy | None = None  # Lead actions only; None means REPORT
    # Update by Id follows a record merged away to the one it was merged into; delete names that one.
    follow_merges: bool = False

    @property
    def operator(self) -> MatcherOperator:
        return self.matcher_operator or MatcherOperator.OR

    @property
    def matcher_groups(self) -> tuple[MatcherGroup, ...]:
        """The record matchers as the first group, then the fallbacks."""
        return (MatcherGroup(self.record_matchers, self.matcher_operator), *self.fallback_matchers)


def group_location(index: int) -> Path:
    """Where a matcher group sits in the action: 0 is action.record_matchers."""
    return RECORD_MATCHERS if index == 0 else ACTION.field("fallback_matchers").index(index - 1)


def group_path(index: int) -> str:
    """A matcher group's location as results name it (`matched_group`)."""
    return str(group_location(index))


@dataclass(frozen=True)
class Event:
    id: str
    payload: Mapping[str, Any]
    # Set when the host's event body could not be read; the event then fails alone.
    parse_error: str | None = None
    # When the event happened, ns since the Unix epoch (the host's clock); newest_event_wins orders by it.
    timestamp_ns: int | None = None


@dataclass(frozen=True)
class Connection:
    """Where the org is and how to authenticate. Credentials are opaque to core."""

    instance_url: str
    is_sandbox: bool = False
    login_host: str = ""
    api_version: str = ""
    credentials: Any = None


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    NO_CHANGE = "no_change"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    ROW_LOCKED = "row_locked"
    RATE_LIMITED = "rate_limited"
    TRANSIENT_FAILURE = "transient_failure"
    AUTH_FAILED = "auth_failed"
    FORBIDDEN = "forbidden"
    UNCERTAIN = "uncertain"
    NOT_ATTEMPTED = "not_attempted"
    WOULD_CREATE = "would_create"
    WOULD_UPDATE = "would_update"
    WOULD_DELETE = "would_delete"
    STALE_SKIPPED = "stale_skipped"
    CONVERTED = "converted"
    PENDING = "pending"


@dataclass(frozen=True)
class FieldProblem:
    """One field of a record that was refused: the mapping (or matcher) that produced its value, and a hint
    (e.g. "length 95, limit 80", or a restricted picklist's allowed values)."""

    field: str
    path: Path = NOWHERE  # NOWHERE: no mapping sets it
    hint: str = ""


@dataclass(frozen=True)
class ResultError:
    code: str
    message: str
    fields: tuple[str, ...] = ()  # the record's fields, as Salesforce names them
    # When known, how long to wait before a retry can succeed (e.g. the org's API allowance is spent).
    retry_after_seconds: float = 0.0
    # Where in the request the problem is (e.g. connection.instance_url), for faults of the request itself.
    paths: tuple[Path, ...] = ()
    # For each refused field of the record (in `fields`), where its value came from.
    field_problems: tuple[FieldProblem, ...] = ()
    # A write that went into a Bulk API job: the job's id (BULK_JOB_PENDING: the job a retry picks up).
    bulk_job_id: str = ""


@dataclass(frozen=True)
class EventResult:
    event_id: str
    status: int
    outcome: Outcome
    record_id: str = ""
    matched_ids: tuple[str, ...] = ()
    retryable: bool = False
    error: ResultError | None = None
    # Indexes into ApplyReport.diagnostics of the problems that failed this event (an invalid action).
    diagnostic_indexes: tuple[int, ...] = ()
    retry_after_seconds: float = 0.0
    # STALE_SKIPPED: the id of the newer event that was applied to the record instead.
    winning_event_id: str = ""
    # With fallback matchers: the group whose matchers found matched_ids/record_id (group_path).
    matched_group: str = ""
    # When a match policy chose among several matches: its name (OLDEST, NEWEST, LAST_MODIFIED, ALL).
    chosen_by: str = ""
    # Written to a converted Lead's Contact (FOLLOW): the mapped fields Contact does not have.
    fields_not_written: tuple[str, ...] = ()
    # OUTCOME_PENDING: the Bulk API job that holds this event's write (a retry picks up its results).
    bulk_job_id: str = ""


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int


@dataclass(frozen=True)
class ApplyReport:
    results: tuple[EventResult, ...]
    api_calls: int
    api_usage: ApiUsage | None = None
    # The action's problems, each once (results point to them by index), at most MAX_REPORTED_DIAGNOSTICS.
    diagnostics: tuple[Diagnostic, ...] = ()
    # The refresh token Salesforce rotated the connection's to (empty if none): the host stores it and sends
    # it from now on, as the one it sent no longer works. A secret: never shown by repr.
    refresh_token: str = field(default="", repr=False)
    describe_calls: int = 0  # of api_calls, those that fetched describe metadata (the rest: queries and writes)
    write_path: str = ""  # how the writes went: core.write_paths paths, several joined by "+"; "" if none
    # Registered Bulk API jobs whose results these results hold (core.coordination.BulkJobs): forgotten once
    # the results are recorded.
    bulk_jobs: tuple[str, ...] = ()


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    field_path: Path = NOWHERE


@dataclass(frozen=True)
class ValidationReport:
    diagnostics: tuple[Diagnostic, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)
