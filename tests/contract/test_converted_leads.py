"""Converted Leads through ApplyService on every adapter: REPORT (default), FOLLOW and IGNORE."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.model import ConvertedLeadPolicy, FieldMapping, Operation, Outcome, ValueSource
from core.service import ApplyService, ValidateService
from tests.builders import LEAD_FIELDS, identify, lead_action, matcher

WITH_TITLE = (*LEAD_FIELDS, FieldMapping("Title", ValueSource.of_path("traits.title")))


def org_of(backend, tenant: str = "acme"):
    """The org behind the backend: the memory backend's, or the emulator's."""
    if backend.name == "memory":
        return backend.factory.org(backend.connection_for(tenant).instance_url)
    backend.connection_for(tenant)
    return backend.emulators[tenant].org


def converted_lead(backend, email: str = "ann@x.com") -> tuple[str, str]:
    org = org_of(backend)
    lead = org.seed("Lead", {"LastName": "Ng", "Company": "Acme", "Email": email})
    return lead, org.convert_lead(lead)


def action(operation: Operation, policy: ConvertedLeadPolicy | None = None):
    return replace(lead_action(operation, mappings=WITH_TITLE if operation is not Operation.DELETE else ()),
                   converted_leads=policy)


@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.UPSERT, Operation.DELETE])
@pytest.mark.parametrize("policy", [None, ConvertedLeadPolicy.REPORT])
def test_report_writes_nothing_and_names_the_contact(backend, operation, policy):
    lead, contact = converted_lead(backend)
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    report = service.apply(conn, action(operation, policy), [identify("e1", email="ANN@x.com", title="VP")])
    [result] = report.results
    assert (result.status, result.outcome, result.record_id, result.matched_ids) == (
        409, Outcome.CONVERTED, lead, (lead,))
    assert contact in result.error.message and result.error.code == "CONVERTED_LEAD"
    assert report.api_calls <= 2  # describe and the lookup (which read IsConverted): nothing written
    assert org_of(backend).get("Lead", lead)["Title"] is None


def test_the_org_refuses_an_update_of_a_converted_lead_as_salesforce_does(backend):
    lead, _ = converted_lead(backend)
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    by_id = lead_action(Operation.UPDATE, matchers=(matcher("Id", "traits.id"),), mappings=WITH_TITLE)
    [result] = service.apply(conn, by_id, [identify("e1", id=lead, title="VP")]).results
    assert (result.status, result.outcome, result.error.code) == (409, Outcome.CONVERTED,
                                                                  "CANNOT_UPDATE_CONVERTED_LEAD")


@pytest.mark.parametrize("operation", [Operation.UPDATE, Operation.UPSERT])
def test_follow_writes_the_fields_contact_has_to_the_contact(backend, operation):
    lead, contact = converted_lead(backend)
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [result] = service.apply(conn, action(operation, ConvertedLeadPolicy.FOLLOW), [
        identify("e1", email="ann@x.com", title="VP", first_name="Ann")]).results
    assert (result.status, result.outcome, result.record_id, result.matched_ids) == (
        200, Outcome.UPDATED, contact, (lead,))
    assert result.fields_not_written == ("Company",)
    written = org_of(backend).get("Contact", contact)
    assert (written["Title"], written["FirstName"]) == ("VP", "Ann")


def test_follow_still_reports_a_delete(backend):
    lead, _ = converted_lead(backend)
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [result] = service.apply(conn, action(Operation.DELETE, ConvertedLeadPolicy.FOLLOW),
                             [identify("e1", email="ann@x.com")]).results
    assert (result.status, result.outcome) == (409, Outcome.CONVERTED)


def test_ignore_lets_an_upsert_create_a_new_lead(backend):
    lead, _ = converted_lead(backend)
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [result] = service.apply(conn, action(Operation.UPSERT, ConvertedLeadPolicy.IGNORE),
                             [identify("e1", email="ann@x.com")]).results
    assert (result.status, result.outcome) == (201, Outcome.CREATED) and result.record_id != lead
    [update] = service.apply(conn, action(Operation.UPDATE, ConvertedLeadPolicy.IGNORE),
                             [identify("e2", email="ann@x.com", title="VP")]).results
    assert (update.status, update.record_id) == (200, result.record_id)


def test_an_open_lead_wins_over_converted_ones(backend):
    lead, _ = converted_lead(backend)
    open_lead = org_of(backend).seed("Lead", {"LastName": "Ng", "Company": "Acme", "Email": "ann@x.com"})
    service, conn = ApplyService(backend.factory), backend.connection_for("acme")
    [result] = service.apply(conn, action(Operation.UPDATE), [identify("e1", email="ann@x.com", title="VP")]).results
    assert (result.status, result.record_id) == (200, open_lead)


def test_a_converted_lead_policy_is_for_lead_actions(backend):
    bad = replace(lead_action(Operation.UPDATE, object_name="Contact", mappings=()),
                  converted_leads=ConvertedLeadPolicy.FOLLOW)
    report = ValidateService(backend.factory).validate(bad, backend.connection_for("acme"))
    assert [(d.code, str(d.field_path)) for d in report.errors] == [
        ("CONVERTED_POLICY_NOT_ALLOWED", "action.converted_lead_policy")]
