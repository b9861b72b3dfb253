"""Hostile events fail alone: values Salesforce cannot take are refused per event, before any request."""

from __future__ import annotations

import json

from core.model import Action, Connection, Event, FieldMapping, Operation, ValueSource
from core.service import ApplyService
from tests.builders import identify, lead_action, matcher
from tests.e2e.salesforce.conftest import refresh_connection


def raw(event_id: str, text: str) -> Event:
    """An event as the server hands it over from payload_json (lone surrogates survive json.loads)."""
    return Event(event_id, json.loads(text))


def test_a_lone_surrogate_or_an_out_of_range_number_fails_only_its_own_event(emulator, backend_factory):
    service, conn = ApplyService(backend_factory()), refresh_connection(emulator)
    service.apply(conn, lead_action(Operation.CREATE), [identify("s", email="ok@x.com")])
    action = lead_action(Operation.UPDATE, matchers=(matcher("Email", "traits.email"),
                                                      matcher("AnnualRevenue", "traits.revenue")))
    events = [identify("ok", email="ok@x.com", first_name="A"),
              raw("surrogate", '{"traits": {"email": "\\ud800@x.com"}}'),
              raw("tiny", '{"traits": {"revenue": 1e-50}}'),
              raw("huge", '{"traits": {"revenue": "1e300"}}'),
              raw("mapped", '{"traits": {"email": "ok@x.com", "first_name": "\\udfff"}}')]
    results = service.apply(conn, action, events).results
    assert [(r.event_id, r.status) for r in results] == [("ok", 200), ("surrogate", 400), ("tiny", 400),
                                                          ("huge", 400), ("mapped", 400)]
    assert "lone surrogate" in results[1].error.message and results[1].error.fields == ("Email",)
    assert "18 digits" in results[2].error.message and results[2].error.fields == ("AnnualRevenue",)
    assert results[4].error.code == "MAPPING_VALUE_INVALID" and results[4].error.fields == ("FirstName",)


def test_usage_is_never_another_tenants(emulator, backend_factory):
    backend = backend_factory()
    service = ApplyService(backend)
    good = service.apply(refresh_connection(emulator), lead_action(Operation.CREATE),
                         [identify("s", email="a@x.com")])
    assert good.api_usage is not None and good.api_usage.used > 0
    emulator.revoke_refresh_token("revoked-token")
    stranger = Connection(emulator.base_url, credentials=refresh_connection(emulator, "revoked-token").credentials)
    refused = service.apply(stranger, lead_action(Operation.CREATE), [identify("t", email="b@x.com")])
    assert refused.results[0].status == 401
    assert refused.api_usage is None and refused.api_calls == 0


def test_a_mapping_path_with_a_huge_index_is_a_400_not_a_crash(emulator, backend_factory):
    path = "traits.emails[" + "9" * 5000 + "]"
    action = Action("Lead", Operation.CREATE, (), None, (FieldMapping("Email", ValueSource.of_path(path)),))
    [result] = ApplyService(backend_factory()).apply(refresh_connection(emulator), action,
                                                     [identify("e", email="x@x.com")]).results
    assert result.status == 400 and result.error.code == "INVALID_ACTION"
    assert len(result.error.message) < 1000
