"""Validation rules for an action: static ones, and ones driven by the org's describe metadata."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core import person_accounts
from core.coercion import CoercionError, coerce, time_zone
from core.describe import FieldDescribe, ObjectDescribe
from core.model import (
    ASSIGNMENT_DEFAULT,
    ASSIGNMENT_NONE,
    Action,
    ConvertedLeadPolicy,
    Diagnostic,
    FieldMapping,
    MatcherOperator,
    MatchPolicy,
    Operation,
    RecordMatcher,
    Severity,
    ValueSource,
    group_location,
)
from core.names import api_name_problem, normalize_id
from core.parents import mapping_problem, parent_object
from core.paths import ACTION, FIELD_MAPPINGS, RECORD_MATCHERS, Path
from core.picklists import CURRENCY_FIELD, PicklistError, check_value
from core.policies import policy_attributes
from core.presets import effective_mappings
from core.record_types import RecordTypeInfo, find_record_type
from core.values import path_problem

MAX_MATCHERS = 10
MAX_FALLBACK_GROUPS = 5  # each group an event reaches may cost a lookup
MAX_MAPPINGS = 1000
MAX_PATHS = 10  # event paths in one first_of: each event tries them in turn
_OPERATION = ACTION.field("operation")
_RECORD_TYPE = ACTION.field("record_type")


def native_upsert_key(f: FieldDescribe) -> bool:
    """Salesforce's own upsert matches on `f` as a SOQL lookup would, so sfdest may send it.

    An external-id, idLookup field, standard or unique: custom field matching in an upsert is
    case-insensitive only when the field is Unique and case-insensitive (Apex Developer Guide,
    "Upserting Records"), so on a non-unique custom external id `abc` would not find `ABC` where SOQL
    does, and the upsert would create a duplicate. Such a field goes through the lookup instead.
    """
    return f.external_id and f.id_lookup and (f.unique or not f.name.endswith("__c"))


def _error(code: str, message: str, path: Path) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, path)


def _warning(code: str, message: str, path: Path) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, path)


def _source_problems(source: ValueSource | None, path: Path) -> list[Diagnostic]:
    if source is None or (not source.is_literal and not source.paths):
        return [_error("VALUE_SOURCE_REQUIRED", "a value source (literal, path or paths) is required", path)]
    if source.is_literal:
        if isinstance(source.literal, (dict, list)):
            return [_error("LITERAL_NOT_SCALAR", "a literal must be a string, number, boolean or null", path)]
        return []
    out = []
    for i, p in enumerate(source.paths):
        problem = path_problem(p)
        if problem:
            where = path if len(source.paths) == 1 else path.field("first_of").field("paths").index(i)
            out.append(_error("INVALID_PATH", f"event path {problem}", where))
    return out


def count_problems(action: Action) -> list[Diagnostic]:
    """More matchers, mappings or first_of paths than allowed: checked first, so no other rule (and no event)
    runs over a huge action."""
    out = []
    if len(action.fallback_matchers) > MAX_FALLBACK_GROUPS:
        return [_error("TOO_MANY_GROUPS", f"at most {MAX_FALLBACK_GROUPS} fallback matcher groups are allowed; got "
                       f"{len(action.fallback_matchers)}", ACTION.field("fallback_matchers"))]
    for items, limit, code, path, noun in (
            *((g.matchers, MAX_MATCHERS, "TOO_MANY_MATCHERS", _matchers_path(i), "record matchers")
              for i, g in enumerate(action.matcher_groups)),
            (action.field_mappings, MAX_MAPPINGS, "TOO_MANY_MAPPINGS", FIELD_MAPPINGS, "field mappings")):
        if len(items) > limit:
            out.append(_error(code, f"at most {limit} {noun} are allowed; got {len(items)}", path))
    if out:
        return out
    sources: tuple[tuple[Path, Sequence[RecordMatcher | FieldMapping]], ...] = (
        *((_matchers_path(i), g.matchers) for i, g in enumerate(action.matcher_groups)),
        (FIELD_MAPPINGS, action.field_mappings))
    for where, entries in sources:
        for i, entry in enumerate(entries):
            if entry.value is not None and len(entry.value.paths) > MAX_PATHS:
                out.append(_error("TOO_MANY_PATHS", f"at most {MAX_PATHS} paths are allowed in first_of; got "
                                  f"{len(entry.value.paths)}",
                                  where.index(i).field("value").field("first_of").field("paths")))
    return out


def _matchers_path(group: int) -> Path:
    """The path of a matcher group's list of matchers."""
    return group_location(group) if group == 0 else group_location(group).field("record_matchers")


def _duplicates(items: Sequence[RecordMatcher | FieldMapping], path: Path, code: str, verb: str) -> list[Diagnostic]:
    """Fields named twice (API names are case-insensitive), in one pass."""
    first: dict[str, int] = {}
    out = []
    for i, item in enumerate(items):
        if first.setdefault(item.field.lower(), i) != i:
            out.append(_error(code, f"field {item.field} is {verb} twice", path.index(i).field("field")))
    return out


def _write_option_problems(action: Action) -> list[Diagnostic]:
    out = []
    rule = action.assignment_rule
    if rule:
        if rule not in (ASSIGNMENT_DEFAULT, ASSIGNMENT_NONE) and not (normalize_id(rule) or "").startswith("01Q"):
            out.append(_error("INVALID_ASSIGNMENT_RULE", f"the assignment rule must be {ASSIGNMENT_DEFAULT!r}, "
                              f"{ASSIGNMENT_NONE!r} or an assignment rule id (01Q...), not {rule[:40]!r}",
                              ACTION.field("assignment_rule")))
        if action.object_name.lower() not in ("lead", "case"):
            out.append(_error("ASSIGNMENT_RULE_NOT_SUPPORTED", "assignment rules apply to Lead and Case only",
                              ACTION.field("assignment_rule")))
    if action.adopt_duplicate and action.operation not in (Operation.CREATE, Operation.UPSERT, None):
        out.append(_warning("ADOPT_DUPLICATE_IGNORED", f"{action.operation.value} creates no record, so there is "
                            "no duplicate to adopt", ACTION.field("adopt_duplicate")))
    return out


def validate_static(action: Action) -> list[Diagnostic]:
    """Rules that need no org: names, enums, matchers present, value sources well formed."""
    out: list[Diagnostic] = count_problems(action)
    if out:
        return out
    for path, raw, valid in action.unknown_enum_values:
        listed = f"; valid values: {', '.join(valid)}" if valid else ""
        out.append(_error("UNKNOWN_ENUM_VALUE", f"unknown enum value {raw}{listed}", path))
    if not action.object_name:
        out.append(_error("OBJECT_REQUIRED", "the object API name must not be empty", ACTION.field("object")))
    else:
        problem = api_name_problem(action.object_name)
        if problem:
            out.append(_error("INVALID_NAME", f"object name {action.object_name!r} {problem}", ACTION.field("object")))
    op = action.operation
    if op is None and not any(u[0] == _OPERATION for u in action.unknown_enum_values):
        out.append(_error("OPERATION_REQUIRED", "choose an operation: create, update, upsert or delete",
                          _OPERATION))
    matchers = action.record_matchers
    for g, group in enumerate(action.matcher_groups):
        group_at = _matchers_path(g)
        for i, m in enumerate(group.matchers):
            problem = api_name_problem(m.field)
            if problem:
                out.append(_error("INVALID_NAME", f"field name {m.field!r} {problem}",
                                  group_at.index(i).field("field")))
            out.extend(_source_problems(m.value, group_at.index(i).field("value")))
        out.extend(_duplicates(group.matchers, group_at, "DUPLICATE_MATCHER", "matched"))
        if g and not group.matchers:
            out.append(_error("MATCHER_REQUIRED", "a fallback group needs at least one record matcher", group_at))
    out.extend(_option_problems(action))
    if op in (Operation.UPDATE, Operation.UPSERT, Operation.DELETE) and not matchers:
        out.append(_error("MATCHER_REQUIRED", f"{op.value} needs at least one record matcher",
                          RECORD_MATCHERS))
    if op is Operation.CREATE and matchers:
        out.append(_warning("MATCHERS_IGNORED", "create never matches; record matchers are ignored",
                            RECORD_MATCHERS))
    if action.newest_event_wins and (op is Operation.CREATE or not matchers):
        out.append(_error("ORDERING_NEEDS_RECORD_MATCHERS", "newest_event_wins orders the events of one record: "
                          "it needs an update, upsert or delete with record matchers that identify the record",
                          ACTION.field("newest_event_wins")))
    if action.matcher_operator is not None and not matchers:
        out.append(_error("OPERATOR_WITHOUT_MATCHERS", "a matcher operator needs record matchers",
                          ACTION.field("matcher_operator")))
    for i, fm in enumerate(action.field_mappings):
        path = FIELD_MAPPINGS.index(i)
        problem = api_name_problem(fm.field)
        if problem:
            out.append(_error("INVALID_NAME", f"field name {fm.field!r} {problem}", path.field("field")))
        out.extend(_source_problems(fm.value, path.field("value")))
        for name, where in ((fm.parent.key_field, "key_field"), (fm.parent.object_name, "object")) if fm.parent else ():
            problem = api_name_problem(name) if name or where == "key_field" else None
            if problem:
                out.append(_error("INVALID_NAME", f"parent {where.replace('_', ' ')} {name[:80]!r} {problem}",
                                  path.field("parent").field(where)))
    out.extend(_duplicates(action.field_mappings, FIELD_MAPPINGS, "DUPLICATE_MAPPING", "mapped"))
    if action.record_type:
        problem = api_name_problem(action.record_type)
        if problem:
            out.append(_error("INVALID_NAME", f"record type {action.record_type!r} {problem}", _RECORD_TYPE))
        elif op is Operation.DELETE:
            out.append(_warning("RECORD_TYPE_IGNORED", "delete writes no fields; the record type is ignored",
                                _RECORD_TYPE))
        if any(m.field.lower() == "recordtypeid" for m in action.field_mappings):
            out.append(_error("RECORD_TYPE_TWICE", "the record type is named by action.record_type; do not also "
                              "map RecordTypeId", _RECORD_TYPE))
    out.extend(_write_option_problems(action))
    out.extend(person_accounts.static_problems(action))
    if op is Operation.DELETE and action.field_mappings:
        out.append(_warning("MAPPINGS_IGNORED", "delete writes no fields; field mappings are ignored",
                            FIELD_MAPPINGS))
    if op in (Operation.UPDATE, Operation.DELETE) and action.operator is MatcherOperator.OR:
        if any(m.field.lower() == "id" for m in matchers) and len(matchers) > 1:
            out.append(_warning("ID_MATCHER_WINS", "when an event has an Id, the record is addressed by Id "
                                "and the other matchers are not consulted", RECORD_MATCHERS))
    if action.naive_datetime_time_zone:
        try:
            time_zone(action.naive_datetime_time_zone)
        except CoercionError as exc:
            out.append(_error("INVALID_TIME_ZONE", str(exc), ACTION.field("naive_datetime_time_zone")))
    return out


def _literal_problems(mapping: FieldMapping, f: FieldDescribe, path: Path) -> list[Diagnostic]:
    """A literal for a restricted picklist checked against its values (its type is checked per event)."""
    if not mapping.value.is_literal or mapping.value.literal is None:
        return []
    value_path = path.field("value") if path.startswith(FIELD_MAPPINGS) else path
    try:
        check_value(f, coerce(mapping.value.literal, f))
    except CoercionError:
        return []
    except PicklistError as exc:
        return [_error("PICKLIST_VALUE_INVALID", str(exc), value_path)]
    return []


def _option_problems(action: Action) -> list[Diagnostic]:
    """Fallback groups and match policies: where the operation can use them."""
    op, out = action.operation, []
    if action.fallback_matchers and not action.record_matchers:
        out.append(_error("MATCHER_REQUIRED", "fallback matchers follow the record matchers; give those first",
                          RECORD_MATCHERS))
    if op is Operation.CREATE and action.fallback_matchers:
        out.append(_warning("MATCHERS_IGNORED", "create never matches; fallback matchers are ignored",
                            ACTION.field("fallback_matchers")))
    if op is Operation.CREATE and action.match_policy is not None:
        out.append(_warning("POLICY_IGNORED", "create never matches; the match policy is ignored",
                            ACTION.field("match_policy")))
    if action.converted_leads is not None and action.object_name.lower() != "lead":
        out.append(_error("CONVERTED_POLICY_NOT_ALLOWED", "a converted-lead policy is for Lead actions only",
                          ACTION.field("converted_lead_policy")))
    elif action.converted_leads is ConvertedLeadPolicy.FOLLOW and op in (Operation.DELETE, Operation.CREATE):
        out.append(_warning("CONVERTED_POLICY_IGNORED", f"FOLLOW applies to update and upsert; {op.value} "
                            + ("never matches" if op is Operation.CREATE else "reports a converted Lead (409)"),
                            ACTION.field("converted_lead_policy")))
    by_id = len(action.record_matchers) == 1 and action.record_matchers[0].field.lower() == "id"
    any_id = any(m.field.lower() == "id" for group in action.matcher_groups for m in group.matchers)
    if action.follow_merges and not ((by_id and op in (Operation.UPDATE, Operation.DELETE)
                                      and not action.fallback_matchers and action.converted_leads is None)
                                     or (any_id and op in (Operation.UPDATE, Operation.UPSERT))):
        out.append(_warning("FOLLOW_MERGES_IGNORED", "merges are followed by update and upsert actions with an Id "
                            "matcher (in any matcher group), and named by delete actions whose only matcher is Id",
                            ACTION.field("follow_merges")))
    if action.match_policy is MatchPolicy.ALL and op is Operation.UPSERT:
        out.append(_error("POLICY_NOT_ALLOWED", "ALL writes every match: it is for update and delete, not upsert "
                          "(choose OLDEST, NEWEST or LAST_MODIFIED)", ACTION.field("match_policy")))
    return out


def validate_against_describe(action: Action, describe: ObjectDescribe) -> list[Diagnostic]:
    """Rules from the org's metadata: operation allowed, fields exist and are usable, required fields."""
    out: list[Diagnostic] = []
    op = action.operation
    allowed = {
        Operation.CREATE: ("createable", describe.createable),
        Operation.UPDATE: ("updateable", describe.updateable),
        Operation.UPSERT: ("createable and updateable", describe.createable and describe.updateable),
        Operation.DELETE: ("deletable", describe.deletable),
    }
    if op in allowed and not allowed[op][1]:
        out.append(_error("OPERATION_NOT_ALLOWED", f"{describe.name} is not {allowed[op][0]}", _OPERATION))
    for g, group in enumerate(action.matcher_groups):
        for i, m in enumerate(group.matchers):
            path = _matchers_path(g).index(i).field("field")
            if api_name_problem(m.field):
                continue
            f = describe.field(m.field)
            if f is None:
                out.append(_error("UNKNOWN_FIELD", f"{describe.name} has no field {m.field}", path))
            elif not f.filterable and f.name != "Id":
                out.append(_error("FIELD_NOT_FILTERABLE",
                                  f"{describe.name}.{f.name} cannot be filtered in a query, so it cannot match "
                                  "records", path))
    policy = action.match_policy
    for name in policy_attributes(policy):
        if policy is not None and describe.field(name) is None:
            out.append(_error("POLICY_NOT_ALLOWED", f"{describe.name} has no {name}, which {policy.value} compares",
                              ACTION.field("match_policy")))
    writes = op in (Operation.CREATE, Operation.UPDATE, Operation.UPSERT)
    mapped = set()
    for mapping, path in effective_mappings(action.preset, action.field_mappings) if writes else ():
        if api_name_problem(mapping.field):
            continue
        f = describe.field(mapping.field)
        field_path = path.field("field") if path.startswith(FIELD_MAPPINGS) else path
        if f is None and mapping.field.lower() == CURRENCY_FIELD.lower():
            out.append(_error("CURRENCY_NOT_ENABLED", f"this org has a single currency: {describe.name} has no "
                              f"{CURRENCY_FIELD} to map", field_path))
            continue
        if f is None:
            out.append(_error("UNKNOWN_FIELD", f"{describe.name} has no field {mapping.field}", field_path))
            continue
        mapped.add(f.name)
        if mapping.parent is not None:
            problem = mapping_problem(describe, f.name, mapping.parent.object_name, mapping.parent.key_field)
            if problem:
                out.append(_error(problem[0], problem[1], path.field("parent")))
        else:
            out.extend(_literal_problems(mapping, f, path))
        if op in (Operation.CREATE, Operation.UPSERT) and not f.createable:
            out.append(_error("FIELD_NOT_CREATEABLE", f"{describe.name}.{f.name} cannot be set on create", field_path))
        if op in (Operation.UPDATE, Operation.UPSERT) and not f.updateable:
            out.append(_error("FIELD_NOT_UPDATEABLE", f"{describe.name}.{f.name} cannot be set on update", field_path))
        if f.type == "currency" and describe.field(CURRENCY_FIELD) is not None and not any(
                m.field.lower() == CURRENCY_FIELD.lower() for m in action.field_mappings):
            out.append(_warning("CURRENCY_NOT_MAPPED", f"{f.name} is a currency amount in a multi-currency org and "
                                f"{CURRENCY_FIELD} is not mapped: Salesforce will read it in the record's currency "
                                "(for a new record, the running user's)", field_path))
    key = describe.field(action.record_matchers[0].field) if len(action.record_matchers) == 1 else None
    if op is Operation.UPSERT and key is not None and native_upsert_key(key):
        for i, mapping in enumerate(action.field_mappings):
            if mapping.field.lower() == key.name.lower():
                out.append(_warning("KEY_MAPPING_IGNORED", f"{key.name} is the upsert key: its value comes from the "
                                    "record matcher, and this mapping is ignored",
                                    FIELD_MAPPINGS.index(i).field("field")))
    if op in (Operation.CREATE, Operation.UPSERT):
        if op is Operation.UPSERT:  # an upsert that creates writes its matcher values too
            mapped |= {f.name for g in action.matcher_groups for m in g.matchers
                       if (f := describe.field(m.field)) and f.createable}
        exempt = person_accounts.exempt_from_required(action)
        missing = [f.name for f in describe.fields if f.required_on_create and f.name not in mapped | exempt]
        if missing:
            out.append(_error("REQUIRED_FIELD_NOT_MAPPED",
                              f"{describe.name} requires {', '.join(missing)} to create a record; map "
                              f"{'it' if len(missing) == 1 else 'them'}", FIELD_MAPPINGS))
    return out + person_accounts.describe_problems(action, describe)


def validate_parent_keys(action: Action, describe: ObjectDescribe,
                         describe_parent: Callable[[str], ObjectDescribe | None],
                         key_fields: dict[str, FieldDescribe] | None = None) -> list[Diagnostic]:
    """Parent-key mappings against the parent's describe: the key field exists and is an idLookup field, and a
    literal key has its type. `key_fields` receives each good key field by lookup name (to type sample events).
    Validate only: Apply leaves that to Salesforce, so a relationship reference costs no extra call."""
    out: list[Diagnostic] = []
    for i, m in enumerate(action.field_mappings):
        lookup = describe.field(m.field) if m.parent is not None else None
        target = parent_object(lookup, m.parent.object_name) if lookup is not None and m.parent else None
        if target is None or m.parent is None or mapping_problem(describe, m.field, m.parent.object_name,
                                                                   m.parent.key_field):
            continue
        parent = describe_parent(target)
        problem = mapping_problem(describe, m.field, m.parent.object_name, m.parent.key_field, parent)
        if problem:
            out.append(_error(problem[0], problem[1], FIELD_MAPPINGS.index(i).field("parent").field("key_field")))
            continue
        key = parent.field(m.parent.key_field) if parent else None
        if key is None or lookup is None:
            continue
        if key_fields is not None:
            key_fields[lookup.name] = key
        if m.value.is_literal and m.value.literal is not None:
            try:
                coerce(m.value.literal, key)
            except CoercionError as exc:
                out.append(_error("PARENT_KEY_VALUE_INVALID", f"the literal key for {target}.{key.name} {exc}",
                                  FIELD_MAPPINGS.index(i).field("value")))
    return out


def record_type_problem(action: Action, describe: ObjectDescribe, infos: Callable[[], tuple[RecordTypeInfo, ...]]
                        ) -> tuple[RecordTypeInfo | None, list[Diagnostic]]:
    """The action's record type in this org, or why there is none (`infos` is called only when needed)."""
    name = person_accounts.record_type_of(action)
    if not name or action.operation is Operation.DELETE or person_accounts.describe_problems(action, describe):
        return None, []
    if describe.field("RecordTypeId") is None:
        return None, [_error("RECORD_TYPE_NOT_FOUND", f"{describe.name} has no record types in this org",
                             _RECORD_TYPE)]
    known = infos()
    found = find_record_type(known, name)
    if found is None or not found.active:
        active = ", ".join(i.developer_name for i in known if i.active and not i.master) or "none"
        return None, [_error("RECORD_TYPE_NOT_FOUND", f"{describe.name} has no active record type "
                             f"{name} (active: {active})", _RECORD_TYPE)]
    return found, []
