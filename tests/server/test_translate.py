"""Proto <-> core translation: enums, value sources, event bodies, credentials, results."""

from __future__ import annotations

import json

import pytest
from google.protobuf import struct_pb2
from sfdest.v1 import destination_pb2 as pb

from core import credentials as creds
from core import model
from core.paths import ACTION
from server import translate
from tests.builders import action


@pytest.mark.parametrize(("name", "expected"), [
    ("OPERATION_UNSPECIFIED", None),
    ("OPERATION_CREATE", model.Operation.CREATE),
    ("OPERATION_UPDATE", model.Operation.UPDATE),
    ("OPERATION_UPSERT", model.Operation.UPSERT),
    ("OPERATION_DELETE", model.Operation.DELETE),
])
def test_operations_map_and_unspecified_means_none(name, expected):
    assert translate.action(action(object="Lead", operation=name)).operation is expected


@pytest.mark.parametrize(("name", "expected"), [
    ("MATCHER_OPERATOR_UNSPECIFIED", None),
    ("MATCHER_OPERATOR_OR", model.MatcherOperator.OR),
    ("MATCHER_OPERATOR_AND", model.MatcherOperator.AND),
])
def test_matcher_operators_map_and_unspecified_means_or(name, expected):
    translated = translate.action(action(object="Lead", matcher_operator=name))
    assert translated.matcher_operator is expected
    assert translated.operator is (expected or model.MatcherOperator.OR)


@pytest.mark.parametrize("preset", list(model.Preset))
def test_presets_map(preset):
    assert translate.action(action(object="Lead", preset=f"PRESET_{preset.name}")).preset is preset


def test_unknown_enum_values_are_kept_with_their_paths():
    translated = translate.action(pb.Action(object="Lead", operation=9, matcher_operator=7, preset=42))
    assert (translated.operation, translated.matcher_operator, translated.preset) == (None, None, None)
    assert [(str(path), raw) for path, raw, _ in translated.unknown_enum_values] == [
        ("action.operation", 9), ("action.matcher_operator", 7), ("action.preset", 42)]
    assert translated.unknown_enum_values[1][2] == ("MATCHER_OPERATOR_OR (1)", "MATCHER_OPERATOR_AND (2)")


@pytest.mark.parametrize(("literal", "expected"), [
    ("Acme", "Acme"), (5, 5), (2.5, 2.5), (True, True), (None, None), (-3.0, -3),
])
def test_literals_become_python_values_with_integral_numbers_as_ints(literal, expected):
    source = translate.action(action(object="Lead", field_mappings=[
        {"field": "X", "value": {"literal": literal}}])).field_mappings[0].value
    assert source.is_literal and source.literal == expected and type(source.literal) is type(expected)


def test_paths_and_first_of_become_ordered_paths():
    a = translate.action(action(object="Lead", record_matchers=[
        {"field": "Email", "value": {"path": "traits.email"}},
        {"field": "Phone", "value": {"firstOf": {"paths": ["traits.phone", "properties.phone"]}}},
        {"field": "Fax"}]))
    assert [m.value for m in a.record_matchers] == [
        model.ValueSource.of_path("traits.email"),
        model.ValueSource.of_path("traits.phone", "properties.phone"),
        model.ValueSource()]
    assert [m.field for m in a.record_matchers] == ["Email", "Phone", "Fax"]


def test_struct_payload_numbers_come_back_as_ints_when_integral():
    event = pb.Event(id="e")
    event.payload.update({"n": 3, "f": 1.5, "nested": {"list": [1, 2.25, None, True, "s"]}})
    assert translate.event(event, 0).payload == {"n": 3, "f": 1.5, "nested": {"list": [1, 2.25, None, True, "s"]}}
    assert type(translate.event(event, 0).payload["n"]) is int


def test_payload_json_keeps_large_integers_exact():
    big = 2**60 + 1
    event = translate.event(pb.Event(id="e", payload_json=json.dumps({"traits": {"n": big}})), 0)
    assert event.payload == {"traits": {"n": big}} and event.parse_error is None


@pytest.mark.parametrize(("body", "says"), [
    ("{oops", "is not valid JSON"),
    ("[]", "must be a JSON object, not an array"),
    ("null", "must be a JSON object, not null"),
    ("7", "must be a JSON object, not a scalar"),
    ('{"x": Infinity}', "Infinity is not valid JSON"),
    ("[" * 50_000, "nested too deeply"),
])
def test_an_unreadable_payload_json_becomes_a_parse_error_naming_the_field(body, says):
    event = translate.event(pb.Event(id="e", payload_json=body), 3, "sample_events")
    assert event.parse_error.startswith("sample_events[3].payload_json ")
    assert says in event.parse_error
    assert event.id == "e"


def test_an_event_without_a_body_is_a_parse_error():
    assert translate.event(pb.Event(id="e"), 0).parse_error == "events[0] has neither payload nor payload_json"


def test_an_explicitly_empty_struct_payload_is_an_empty_object():
    event = pb.Event(id="e")
    event.payload.CopyFrom(struct_pb2.Struct())
    assert translate.event(event, 0) == model.Event("e", {})


CREDENTIALS = {
    "oauth_refresh_token": (pb.OAuthRefreshToken(client_id="cid", client_secret="S1", refresh_token="S2",
                                                 access_token="S3"),
                            creds.OAuthRefreshToken("cid", "S1", "S2", "S3")),
    "client_credentials": (pb.ClientCredentials(client_id="cid", client_secret="S1"),
                           creds.ClientCredentials("cid", "S1")),
    "jwt_bearer": (pb.JwtBearer(client_id="cid", username="u@x.io", private_key_pem="S1"),
                   creds.JwtBearer("cid", "u@x.io", "S1")),
    "username_password": (pb.UsernamePassword(client_id="cid", client_secret="S1", username="u@x.io",
                                              password="S2", security_token="S3"),
                          creds.UsernamePassword("cid", "S1", "u@x.io", "S2", "S3")),
}


@pytest.mark.parametrize("kind", CREDENTIALS)
def test_credentials_translate_and_never_show_their_secrets(kind):
    message, expected = CREDENTIALS[kind]
    connection = pb.Connection(instance_url="https://a.my.salesforce.com", is_sandbox=True, login_host="a.my",
                               api_version="v60.0", **{kind: message})
    translated = translate.connection(connection)
    assert translated == model.Connection("https://a.my.salesforce.com", True, "a.my", "v60.0", expected)
    for shown in (repr(translated), str(translated.credentials), f"{translated!r}"):
        assert "cid" in shown
        for secret in ("S1", "S2", "S3"):
            assert secret not in shown


def test_a_connection_without_credentials_has_none():
    assert translate.connection(pb.Connection(instance_url="u")).credentials is None


@pytest.mark.parametrize("outcome", list(model.Outcome))
def test_every_core_outcome_has_its_proto_outcome(outcome):
    result = translate.event_result(model.EventResult("e", 200, outcome))
    assert pb.Outcome.Name(result.outcome) == f"OUTCOME_{outcome.name}"
    assert translate.outcome_name(result.outcome) == outcome.value


def test_results_carry_ids_retryability_and_errors():
    report = model.ApplyReport((
        model.EventResult("a", 300, model.Outcome.AMBIGUOUS, matched_ids=("00Q1", "00Q2"),
                          error=model.ResultError("MULTIPLE_MATCHES", "two", ("Email",))),
        model.EventResult("b", 201, model.Outcome.CREATED, record_id="00Q3"),
        model.EventResult("c", 423, model.Outcome.ROW_LOCKED, retryable=True),
    ), api_calls=4, api_usage=model.ApiUsage(10, 100), describe_calls=1)
    response = translate.apply_response(report)
    a, b, c = response.results
    assert (a.event_id, a.status, list(a.matched_ids)) == ("a", 300, ["00Q1", "00Q2"])
    assert (a.error.code, a.error.message, list(a.error.fields)) == ("MULTIPLE_MATCHES", "two", ["Email"])
    assert (b.record_id, b.HasField("error")) == ("00Q3", False)
    assert c.retryable and not b.retryable
    assert (response.salesforce_api_calls, response.api_usage.used, response.api_usage.limit) == (4, 10, 100)
    assert response.salesforce_describe_calls == 1
    assert not translate.apply_response(model.ApplyReport((), 0)).HasField("api_usage")


@pytest.mark.parametrize(("severities", "valid"), [
    ((), True),
    ((model.Severity.WARNING, model.Severity.INFO), True),
    ((model.Severity.INFO, model.Severity.ERROR), False),
])
def test_diagnostics_translate_and_valid_means_no_error(severities, valid):
    report = model.ValidationReport(tuple(model.Diagnostic(s, "C", "m", ACTION.field("object")) for s in severities))
    response = translate.validate_response(report)
    assert response.valid is valid
    assert [translate.severity_name(d.severity) for d in response.diagnostics] == [s.name for s in severities]
    assert all(d.field_path == "action.object" and d.code == "C" for d in response.diagnostics)
