"""Real describe flags through the REST adapter: what it reads, and an upsert keyed on a field no REST upsert takes.

The emulator serves the vendored real describes (adapters/memory/describe); the Salesforce adapter parses them
on its own (core.describe_rest), so the facts must come through intact.
"""

from __future__ import annotations

import httpx

from adapters.memory.catalog import STANDARD_CATALOG
from core.model import Action, FieldMapping, Operation, Outcome, Severity, ValueSource
from core.service import ApplyService, ValidateService
from tests.builders import identify, matcher
from tests.e2e.salesforce.conftest import refresh_connection

ACCOUNT_BY_NAME = Action("Account", Operation.UPSERT, (matcher("Name", "traits.company"),), None,
                         (FieldMapping("Phone", ValueSource.of_path("traits.phone")),))


def test_the_rest_adapter_reads_every_describe_fact_the_org_serves(emulator, backend_factory):
    store = backend_factory().open(refresh_connection(emulator))
    for name in ("Lead", "Account", "Opportunity", "User"):
        assert store.describe(name) == STANDARD_CATALOG[name]
    lead = store.describe("Lead")
    assert lead.field("Rating").picklist_values[0].value == "Hot" and not lead.field("Rating").restricted_picklist
    assert lead.field("GeocodeAccuracy").restricted_picklist
    assert lead.field("ConvertedAccountId").reference_to == ("Account",)
    assert lead.field("ConvertedAccountId").relationship_name == "ConvertedAccount"
    assert (lead.field("Latitude").precision, lead.field("Latitude").scale) == (18, 15)


def test_an_upsert_keyed_on_account_name_matches_by_query_never_by_rest_upsert(emulator, backend_factory):
    # sfdest accepts the action (Name is filterable) and keys it by query: created once, then updated.
    connection = refresh_connection(emulator)
    report = ValidateService(backend_factory()).validate(ACCOUNT_BY_NAME, connection)
    assert [d for d in report.diagnostics if d.severity is Severity.ERROR] == []
    service = ApplyService(backend_factory())
    [first] = service.apply(connection, ACCOUNT_BY_NAME, [identify("e1", company="Acme", phone="555-0100")]).results
    [second] = service.apply(connection, ACCOUNT_BY_NAME, [identify("e2", company="ACME", phone="555-0199")]).results
    assert (first.status, first.outcome) == (201, Outcome.CREATED)
    assert (second.status, second.outcome, second.record_id) == (200, Outcome.UPDATED, first.record_id)
    assert emulator.calls["collection_upsert"] == 0 and emulator.calls["sobject_upsert"] == 0
    assert [(r["Name"], r["Phone"]) for r in emulator.org.records("Account")] == [("Acme", "555-0199")]

    # A REST upsert keyed on it is what a real org refuses: Account.Name is no idLookup field.
    token = emulator.issue_token()
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {token}"}) as api:
        answer = api.patch("/services/data/v66.0/sobjects/Account/Name/Acme", json={"Phone": "1"})
    assert answer.status_code == 404
    assert answer.json()[0]["message"] == "Provided external ID field does not exist or is not accessible: Name"
