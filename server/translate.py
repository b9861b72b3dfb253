"""Translation between the protobuf contract and core's domain types, in both directions."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from google.protobuf import struct_pb2
from sfdest.v1 import destination_pb2 as pb

from core import credentials as creds
from core import erasure, model
from core.paths import ACTION, Path

_OPERATIONS = {
    pb.OPERATION_CREATE: model.Operation.CREATE,
    pb.OPERATION_UPDATE: model.Operation.UPDATE,
    pb.OPERATION_UPSERT: model.Operation.UPSERT,
    pb.OPERATION_DELETE: model.Operation.DELETE,
}
_OPERATORS = {
    pb.MATCHER_OPERATOR_OR: model.MatcherOperator.OR,
    pb.MATCHER_OPERATOR_AND: model.MatcherOperator.AND,
}
_PRESETS = {
    pb.PRESET_LEAD: model.Preset.LEAD,
    pb.PRESET_CONTACT: model.Preset.CONTACT,
    pb.PRESET_ACCOUNT: model.Preset.ACCOUNT,
    pb.PRESET_OPPORTUNITY: model.Preset.OPPORTUNITY,
    pb.PRESET_CASE: model.Preset.CASE,
    pb.PRESET_PERSON_ACCOUNT: model.Preset.PERSON_ACCOUNT,
}
_POLICIES = {pb.MatchPolicy.Value(f"MATCH_POLICY_{p.name}"): p for p in model.MatchPolicy}
_CONVERTED = {pb.ConvertedLeadPolicy.Value(f"CONVERTED_LEAD_POLICY_{p.name}"): p for p in model.ConvertedLeadPolicy}
_OUTCOMES = {o: pb.Outcome.Value(f"OUTCOME_{o.name}") for o in model.Outcome}
_SEVERITIES = {
    model.Severity.ERROR: pb.SEVERITY_ERROR,
    model.Severity.WARNING: pb.SEVERITY_WARNING,
    model.Severity.INFO: pb.SEVERITY_INFO,
}
_T = TypeVar("_T")
# Integral doubles within this bound are exact, so turning them into ints loses nothing.
_EXACT_INT = 2**53


# proto -> core ---------------------------------------------------------------------------------
def _number(value: float) -> int | float:
    """Struct stores every number as a double; integral ones go back to int (NaN stays for core to refuse)."""
    if math.isfinite(value) and value.is_integer() and abs(value) <= _EXACT_INT:
        return int(value)
    return value


def plain(value: struct_pb2.Value) -> Any:
    """A google.protobuf.Value as Python: what json_format.MessageToDict gives, minus its NaN refusal."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return plain_struct(value.struct_value)
    if kind == "list_value":
        return [plain(v) for v in value.list_value.values]
    return None  # null_value, or no value at all


def plain_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return {k: plain(v) for k, v in struct.fields.items()}


def _enum(raw: int, table: Mapping[Any, _T], path: Path, unknown: list[tuple[Path, int, tuple[str, ...]]],
          names: Any) -> _T | None:
    """The core value of proto enum value `raw` (None for 0); an unknown one is noted with the valid names."""
    if raw == 0:
        return None
    if raw not in table:
        unknown.append((path, raw, tuple(f"{names.Name(v)} ({v})" for v in table)))
        return None
    return table[raw]


def value_source(source: pb.ValueSource) -> model.ValueSource:
    kind = source.WhichOneof("source")
    if kind == "literal":
        return model.ValueSource.of_literal(plain(source.literal))
    if kind == "path":
        return model.ValueSource.of_path(source.path)
    if kind == "first_of":
        return model.ValueSource.of_path(*source.first_of.paths)
    return model.ValueSource()  # no source at all: validation reports VALUE_SOURCE_REQUIRED


def _parent(mapping: pb.FieldMapping) -> model.ParentKey | None:
    if not mapping.HasField("parent"):
        return None
    return model.ParentKey(mapping.parent.key_field, mapping.parent.object)


def _duplicate_rule(message: pb.Action) -> model.DuplicateRuleHeader | None:
    if not message.HasField("duplicate_rule_header"):
        return None
    h = message.duplicate_rule_header
    return model.DuplicateRuleHeader(h.allow_save, h.include_record_details, h.run_as_current_user)


def action(message: pb.Action) -> model.Action:
    unknown: list[tuple[Path, int, tuple[str, ...]]] = []
    operation = _enum(message.operation, _OPERATIONS, ACTION.field("operation"), unknown, pb.Operation)
    operator = _enum(message.matcher_operator, _OPERATORS, ACTION.field("matcher_operator"), unknown,
                     pb.MatcherOperator)
    preset = _enum(message.preset, _PRESETS, ACTION.field("preset"), unknown, pb.Preset)
    policy = _enum(message.match_policy, _POLICIES, ACTION.field("match_policy"), unknown, pb.MatchPolicy)
    converted = _enum(message.converted_lead_policy, _CONVERTED, ACTION.field("converted_lead_policy"), unknown,
                      pb.ConvertedLeadPolicy)
    fallbacks = tuple(model.MatcherGroup(
        tuple(model.RecordMatcher(m.field, value_source(m.value)) for m in group.record_matchers),
        _enum(group.matcher_operator, _OPERATORS, model.group_location(g + 1).field("matcher_operator"), unknown,
              pb.MatcherOperator))
        for g, group in enumerate(message.fallback_matchers))
    return model.Action(
        object_name=message.object,
        operation=operation,
        record_matchers=tuple(model.RecordMatcher(m.field, value_source(m.value)) for m in message.record_matchers),
        matcher_operator=operator,
        field_mappings=tuple(model.FieldMapping(m.field, value_source(m.value), _parent(m))
                             for m in message.field_mappings),
        preset=preset,
        record_type=message.record_type,
        duplicate_rule=_duplicate_rule(message),
        adopt_duplicate=message.adopt_duplicate,
        assignment_rule=message.assignment_rule,
        unknown_enum_values=tuple(unknown),
        naive_datetime_time_zone=message.naive_datetime_time_zone,
        newest_event_wins=message.newest_event_wins,
        fallback_matchers=fallbacks,
        match_policy=policy,
        converted_leads=converted,
        follow_merges=message.follow_merges,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json_object(text: str, path: Path) -> tuple[dict[str, Any], str | None]:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        else:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        return {}, f"{path} is not valid JSON: {reason}"
    if not isinstance(value, dict):
        kind = "an array" if isinstance(value, list) else "a scalar" if value is not None else "null"
        return {}, f"{path} must be a JSON object, not {kind}"
    return value, None


def event(message: pb.Event, index: int, list_name: str = "events") -> model.Event:
    """One host event; an unreadable body becomes a parse error so that this event alone fails."""
    path = Path.root(list_name).index(index)
    body = message.WhichOneof("body")
    ts = message.timestamp.ToNanoseconds() if message.HasField("timestamp") else None
    if body == "payload":
        return model.Event(message.id, plain_struct(message.payload), timestamp_ns=ts)
    if body == "payload_json":
        payload, problem = _parse_json_object(message.payload_json, path.field("payload_json"))
        return model.Event(message.id, payload, parse_error=problem, timestamp_ns=ts)
    return model.Event(message.id, {}, parse_error=f"{path} has neither payload nor payload_json")


def events(messages: Sequence[pb.Event], list_name: str = "events") -> tuple[model.Event, ...]:
    return tuple(event(m, i, list_name) for i, m in enumerate(messages))


def credentials(message: pb.Connection) -> creds.Credentials | None:
    kind = message.WhichOneof("credentials")
    if kind == "oauth_refresh_token":
        c = message.oauth_refresh_token
        return creds.OAuthRefreshToken(c.client_id, c.client_secret, c.refresh_token, c.access_token)
    if kind == "client_credentials":
        c = message.client_credentials
        return creds.ClientCredentials(c.client_id, c.client_secret)
    if kind == "jwt_bearer":
        c = message.jwt_bearer
        return creds.JwtBearer(c.client_id, c.username, c.private_key_pem)
    if kind == "username_password":
        c = message.username_password
        return creds.UsernamePassword(c.client_id, c.client_secret, c.username, c.password, c.security_token)
    return None


def connection(message: pb.Connection) -> model.Connection:
    return model.Connection(
        instance_url=message.instance_url,
        is_sandbox=message.is_sandbox,
        login_host=message.login_host,
        api_version=message.api_version,
        credentials=credentials(message),
    )


def person_identifiers(messages: Sequence[pb.PersonIdentifier]) -> tuple[erasure.PersonIdentifier, ...]:
    return tuple(erasure.PersonIdentifier(m.object, m.field, tuple(plain(v) for v in m.values)) for m in messages)


# core -> proto ---------------------------------------------------------------------------------
def event_result(result: model.EventResult) -> pb.EventResult:
    out = pb.EventResult(
        event_id=result.event_id,
        status=result.status,
        outcome=_OUTCOMES[result.outcome],
        record_id=result.record_id,
        matched_ids=list(result.matched_ids),
        retryable=result.retryable,
        diagnostic_indexes=list(result.diagnostic_indexes),
        winning_event_id=result.winning_event_id,
        matched_group=result.matched_group,
        chosen_by=result.chosen_by,
        fields_not_written=list(result.fields_not_written),
        bulk_job_id=result.bulk_job_id,
    )
    if result.error is not None:
        out.error.CopyFrom(pb.ResultError(code=result.error.code, message=result.error.message,
                                          fields=[*map(str, result.error.paths), *result.error.fields],
                                          field_problems=[pb.FieldProblem(field=p.field, path=str(p.path),
                                                                          hint=p.hint)
                                                          for p in result.error.field_problems]))
    if result.retry_after_seconds > 0:
        out.retry_after.FromNanoseconds(math.ceil(result.retry_after_seconds * 1000) * 1_000_000)  # whole ms
    return out


def step_cpu(seconds: dict[str, float]) -> list[pb.StepCpu]:
    """CPU seconds per step (core.steps), largest first."""
    out = []
    for step, cpu in sorted(seconds.items(), key=lambda kv: -kv[1]):
        message = pb.StepCpu(step=step)
        message.cpu.FromTimedelta(timedelta(seconds=cpu))
        out.append(message)
    return out


def apply_response(report: model.ApplyReport) -> pb.ApplyResponse:
    out = pb.ApplyResponse(results=[event_result(r) for r in report.results],
                           salesforce_api_calls=report.api_calls, salesforce_describe_calls=report.describe_calls,
                           diagnostics=[diagnostic(d) for d in report.diagnostics], write_path=report.write_path)
    if report.api_usage is not None:
        out.api_usage.CopyFrom(pb.ApiUsage(used=report.api_usage.used, limit=report.api_usage.limit))
    if report.refresh_token:
        out.refresh_token = report.refresh_token
    return out


def diagnostic(d: model.Diagnostic) -> pb.Diagnostic:
    return pb.Diagnostic(severity=_SEVERITIES[d.severity], code=d.code, message=d.message,
                        field_path=str(d.field_path))


def validate_response(report: model.ValidationReport) -> pb.ValidateResponse:
    return pb.ValidateResponse(diagnostics=[diagnostic(d) for d in report.diagnostics], valid=report.valid)


def outcome_name(value: int) -> str:
    """`OUTCOME_CREATED` -> `created`, for people and logs."""
    return pb.Outcome.Name(value).removeprefix("OUTCOME_").lower() if value in pb.Outcome.values() else str(value)


def severity_name(value: int) -> str:
    return pb.Severity.Name(value).removeprefix("SEVERITY_") if value in pb.Severity.values() else str(value)


def erase_response(report: erasure.EraseReport) -> pb.EraseResponse:
    out = pb.EraseResponse(salesforce_api_calls=report.api_calls, salesforce_describe_calls=report.describe_calls,
                           hard_delete_refused=report.hard_delete_refused)
    for r in report.records:
        record = out.records.add(object=r.object_name, record_id=r.record_id, status=r.status,
                                 outcome=_OUTCOMES[r.outcome], found_by=r.found_by, in_recycle_bin=r.in_recycle_bin,
                                 note=r.note)
        if r.error is not None:
            record.error.CopyFrom(pb.ResultError(code=r.error.code, message=r.error.message,
                                                 fields=list(r.error.fields)))
    return out
