"""Several parents with a key, answered the way Salesforce answers an external id matching several records
(DUPLICATE_EXTERNAL_ID "<field label>: more than one record found for external id field: [ids]"): still
PARENT_AMBIGUOUS (300) naming the mapping, with the ids. Over MockTransport."""

from __future__ import annotations

import pytest

from adapters.memory.catalog import STANDARD_CATALOG, describe_json
from adapters.memory.describe_json import field_json
from core.describe import FieldDescribe
from core.model import Action, Event, FieldMapping, Operation, Outcome, ParentKey, ValueSource
from core.service import ApplyService
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.fakes import DATA, FakeSalesforce, respond

ACCOUNT_IDS = ["001Hs00000AbCdEIAV", "001Hs00000AbCdFIAV"]


def _describes(org: FakeSalesforce) -> None:
    version = DATA.rsplit("/v", 1)[1]
    account = describe_json(STANDARD_CATALOG["Account"], version)
    account["fields"] = [*account["fields"], field_json(FieldDescribe(
        "External_Id__c", "string", "External Id", 255, external_id=True, id_lookup=True))]
    org.on("GET", f"{DATA}/sobjects/Account/describe", respond(200, account))
    org.on("GET", f"{DATA}/sobjects/Contact/describe", respond(200, describe_json(STANDARD_CATALOG["Contact"], version)))


def _contact(*parents: tuple[str, str]) -> Action:
    return Action("Contact", Operation.CREATE, (), None, (
        FieldMapping("LastName", ValueSource.of_literal("Ng")),
        *(FieldMapping(lookup, ValueSource.of_path(lookup), ParentKey(key)) for lookup, key in parents)))


def _refusal(label: str) -> dict:
    return {"success": False, "errors": [{"statusCode": "DUPLICATE_EXTERNAL_ID", "fields": [], "message":
            f"{label}: more than one record found for external id field: [{', '.join(ACCOUNT_IDS)}]"}]}


@pytest.mark.parametrize("label", ["External Id", "External_Id__c"])
def test_an_external_id_matching_several_parents_is_parent_ambiguous(label):
    org = FakeSalesforce()
    _describes(org)
    org.on("POST", f"{DATA}/composite/sobjects", respond(200, [_refusal(label)]))
    action = _contact(("AccountId", "External_Id__c"))
    [result] = ApplyService(fakes.backend(org)).apply(fakes.connection(), action, [
        Event("e", {"AccountId": "DUP"})]).results
    assert (result.status, result.outcome, result.error.code) == (300, Outcome.AMBIGUOUS, "PARENT_AMBIGUOUS")
    assert result.matched_ids == tuple(ACCOUNT_IDS) and result.error.fields == ("AccountId",)
    assert "action.field_mappings[1]" in result.error.message and "DUP" not in result.error.message


def test_the_label_picks_the_reference_among_several():
    org = FakeSalesforce()
    _describes(org)
    org.on("POST", f"{DATA}/composite/sobjects", respond(200, [_refusal("External Id")]))
    action = _contact(("ReportsToId", "Email"), ("AccountId", "External_Id__c"))
    [result] = ApplyService(fakes.backend(org)).apply(fakes.connection(), action, [
        Event("e", {"AccountId": "DUP", "ReportsToId": "boss@example.com"})]).results
    assert (result.status, result.error.code, result.error.fields) == (300, "PARENT_AMBIGUOUS", ("AccountId",))
