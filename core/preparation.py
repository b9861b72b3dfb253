"""One event to what core needs: the record's field values and the matcher values, or a 400."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from core import outcomes
from core.codes import Code
from core.coercion import MAX_STRING_LITERAL, CoercionError, coerce, time_zone
from core.describe import FieldDescribe, ObjectDescribe
from core.field_problems import with_field_problems
from core.model import (
    Action,
    Event,
    EventResult,
    FieldMapping,
    MatcherOperator,
    Operation,
    RecordMatcher,
    ResultError,
    group_location,
)
from core.outcomes import failure, invalid
from core.parents import reference
from core.paths import RECORD_MATCHERS, Path
from core.picklists import CURRENCY_FIELD, PicklistError, check_value
from core.values import MISSING, resolve


@dataclass
class Prepared:
    index: int
    event_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    matchers: dict[str, Any] = field(default_factory=dict)
    # Which mapping supplied each field, for error messages; and its request path, for field problems.
    sources: dict[str, str] = field(default_factory=dict)
    field_paths: dict[str, Path] = field(default_factory=dict)
    describe: ObjectDescribe | None = None  # the object's describe the values were typed by
    error: EventResult | None = None
    # Matcher values per matcher group (the record matchers, then the fallbacks); None where skipped.
    groups: list[dict[str, Any] | None] = field(default_factory=list)
    # The event's key (core.idempotency.event_key) when the Apply registers long-running writes under it.
    key: str = ""

    @property
    def direct_id(self) -> str | None:
        return self.matchers.get("Id")

    def explain(self, error: ResultError, record: Mapping[str, Any],
                allowed: Mapping[str, tuple[str, ...]] | None = None) -> ResultError:
        """`error` naming, for each field it names, the mapping that produced the field, with a hint."""
        return with_field_problems(error, record, self.field_paths, self.describe, allowed)

    def refused(self, code: Code, message: str, fields: tuple[str, ...], record: Mapping[str, Any],
                allowed: Mapping[str, tuple[str, ...]] | None = None) -> EventResult:
        return failure(self.event_id, self.explain(outcomes.error(code, message, fields), record, allowed))


class _Invalid(Exception):
    def __init__(self, code: Code, message: str, fields: tuple[str, ...]):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


def _canonical(describe: ObjectDescribe | None, name: str) -> tuple[str, FieldDescribe | None]:
    f = describe.field(name) if describe else None
    return (f.name if f else name), f


def _naive_zone(action: Action) -> tzinfo | None:
    """The zone of offset-less datetimes (None: refuse them; validation reports a bad name)."""
    try:
        return time_zone(action.naive_datetime_time_zone) if action.naive_datetime_time_zone else None
    except CoercionError:
        return None


def _group_values(matchers: tuple[RecordMatcher, ...], operator: MatcherOperator, path: Path, event: Event,
                  describe: ObjectDescribe | None, zone: tzinfo | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    skipped = []
    for i, m in enumerate(matchers):
        name, f = _canonical(describe, m.field)
        label = f"record matcher {path.index(i)} ({name})"
        raw = resolve(m.value, event.payload)
        if raw is MISSING or raw is None:
            if operator is MatcherOperator.AND:
                what = "is null" if raw is None else "is missing"
                raise _Invalid(Code.MATCHER_VALUE_MISSING,
                               f"{label}: value from {m.value.describe()} {what} in this event; "
                               "with AND every matcher needs a value", (name,))
            skipped.append(f"{name} ({m.value.describe()})")
            continue
        try:
            value = coerce(raw, f, zone)
        except CoercionError as exc:
            code = Code.INVALID_ID if name == "Id" else Code.MATCHER_VALUE_INVALID
            raise _Invalid(code, f"{label}: value {exc}", (name,)) from None
        if isinstance(value, str) and len(value) > MAX_STRING_LITERAL:
            raise _Invalid(Code.MATCHER_VALUE_INVALID,
                           f"{label}: value is longer than {MAX_STRING_LITERAL} characters", (name,))
        if name == "Id" and describe and describe.key_prefix and not value.startswith(describe.key_prefix):
            raise _Invalid(Code.INVALID_ID, f"{label}: {value} is not a {describe.name} id "
                           f"({describe.name} ids start with {describe.key_prefix})", (name,))
        values[name] = value
    if matchers and not values:
        raise _Invalid(Code.MATCHER_VALUE_MISSING,
                       "no record matcher has a value in this event: " + ", ".join(skipped),
                       tuple(s.split(" ")[0] for s in skipped))
    return values


def _parent_value(mapping: FieldMapping, lookup: FieldDescribe, raw: Any, path: Path,
                  key: FieldDescribe | None, zone: tzinfo | None) -> Any:
    """A relationship reference to the parent with this key (None clears the lookup); typed as the parent's key
    field when its describe is known (Validate), else sent as given."""
    if raw is None:
        return None
    try:
        value = coerce(raw, key, zone)
    except CoercionError as exc:
        raise _Invalid(Code.MAPPING_VALUE_INVALID, f"field mapping {path} ({lookup.name}): parent key {exc}",
                       (lookup.name,)) from None
    assert mapping.parent is not None
    return reference(lookup, mapping.parent.object_name, mapping.parent.key_field, value)


def _cascade_values(action: Action, event: Event, describe: ObjectDescribe | None, zone: tzinfo | None
                    ) -> list[dict[str, Any] | None]:
    """Each group's matcher values, None for a group this event skips; a 400 when it skips every group."""
    groups: list[dict[str, Any] | None] = []
    skipped = []
    for g, group in enumerate(action.matcher_groups):
        path = group_location(g)
        try:
            groups.append(_group_values(group.matchers, group.effective_operator,
                                        path if g == 0 else path.field("record_matchers"), event, describe, zone))
        except _Invalid as bad:
            if bad.code != Code.MATCHER_VALUE_MISSING:
                raise
            groups.append(None)
            skipped.append((path, bad.fields))
    if all(values is None for values in groups):
        raise _Invalid(Code.MATCHER_VALUE_MISSING, "every matcher group lacks values in this event: "
                       + ", ".join(str(path) for path, _ in skipped),
                       tuple(dict.fromkeys(name for _, names in skipped for name in names)))
    return groups


def prepare(
    index: int,
    event: Event,
    action: Action,
    mappings: tuple[tuple[FieldMapping, Path], ...],
    describe: ObjectDescribe | None,
    picklists: Mapping[str, tuple[str, ...]] | None = None,
    parent_keys: Mapping[str, FieldDescribe] | None = None,
) -> Prepared:
    """Resolve and type-check one event; problems become a 400 result that names the field.

    `picklists` holds, by field name, the values a record type allows (else the field's active values apply)."""
    picklists = picklists or {}
    p = Prepared(index=index, event_id=event.id, describe=describe)
    if event.parse_error:
        p.error = invalid(event.id, Code.INVALID_EVENT, event.parse_error)
        return p
    zone = _naive_zone(action)
    try:
        if action.operation is not Operation.CREATE:
            for i, m in enumerate(action.record_matchers):  # an upsert writes its matcher values too
                p.field_paths.setdefault(_canonical(describe, m.field)[0], RECORD_MATCHERS.index(i))
        if action.operation is not Operation.CREATE and action.fallback_matchers:
            p.groups = _cascade_values(action, event, describe, zone)
            p.matchers = p.groups[0] or {}
        elif action.operation is not Operation.CREATE:
            p.matchers = _group_values(action.record_matchers, action.operator, RECORD_MATCHERS, event, describe,
                                       zone)
            p.groups = [p.matchers]
        if action.operation is not Operation.DELETE:
            for mapping, path in mappings:
                name, f = _canonical(describe, mapping.field)
                p.sources[name] = f"{path} ({mapping.value.describe()})"
                p.field_paths[name] = path
                raw = resolve(mapping.value, event.payload)
                if raw is MISSING:
                    continue
                if mapping.parent is not None and f is not None:
                    p.fields[name] = _parent_value(mapping, f, raw, path, (parent_keys or {}).get(f.name), zone)
                    continue
                try:
                    p.fields[name] = coerce(raw, f, zone)
                except CoercionError as exc:
                    raise _Invalid(Code.MAPPING_VALUE_INVALID,
                                   f"field mapping {path} ({name}): value {exc}", (name,)) from None
                if f is not None:
                    try:
                        check_value(f, p.fields[name], picklists.get(f.name))
                    except PicklistError as exc:
                        code = Code.CURRENCY_NOT_ENABLED if f.name == CURRENCY_FIELD else Code.PICKLIST_VALUE_INVALID
                        raise _Invalid(code, f"field mapping {path}: {exc}", (name,)) from None
    except _Invalid as bad:
        p.error = p.refused(bad.code, bad.message, bad.fields, p.fields)
    return p


def missing_required(p: Prepared, record: dict[str, Any], describe: ObjectDescribe | None,
                     exempt: frozenset[str] = frozenset()) -> EventResult | None:
    """A 400 when a record about to be created lacks a value Salesforce requires (`exempt`: fields this kind of
    record must not have, such as a person account's Name)."""
    if describe is None:
        return None
    missing = [f.name for f in describe.fields
               if f.required_on_create and f.name not in exempt and record.get(f.name) in (None, "")]
    if not missing:
        return None
    hints = "; ".join(f"{n} comes from {p.sources[n]}" for n in missing if n in p.sources)
    one = len(missing) == 1
    message = (f"{', '.join(missing)} {'is' if one else 'are'} required to create a {describe.name}, "
               f"but this event has no value for {'it' if one else 'them'}")
    return p.refused(Code.REQUIRED_VALUE_MISSING, message + (f" ({hints})" if hints else ""), tuple(missing), record)


def picklist_problem(p: Prepared, record: dict[str, Any], describe: ObjectDescribe | None,
                     allowed: Mapping[str, tuple[str, ...]] | None) -> EventResult | None:
    """A 400 when a record about to be created holds a value its record type's picklist does not allow."""
    if describe is None or not allowed:
        return None
    for name, value in record.items():
        f = describe.field(name)
        if f is None or name not in allowed:
            continue
        try:
            check_value(f, value, allowed[name])
        except PicklistError as exc:
            return p.refused(Code.PICKLIST_VALUE_INVALID, f"field mapping {p.sources.get(name, name)}: {exc}",
                             (name,), record, allowed)
    return None
