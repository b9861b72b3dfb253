"""Org features on the wire: record types in describe and describe layouts, duplicateResult, org flags."""

from __future__ import annotations

import argparse

import httpx

from adapters.memory.org_options import OrgOptions, RecordTypeSpec, new_org
from tools.emulator.org_flags import add_flags, org_from


def _api(emulator) -> httpx.Client:
    return httpx.Client(base_url=emulator.base_url + "/services/data/v62.0",
                        headers={"Authorization": f"Bearer {emulator.issue_token()}"})


def test_describe_and_describe_layouts_list_the_record_types(emulator_factory):
    emu = emulator_factory(org=new_org(OrgOptions(record_types=(
        RecordTypeSpec("Subscription__c", "Basic", picklists=(("Tier__c", ("Bronze",)),)),))))
    with _api(emu) as api:
        infos = api.get("/sobjects/Subscription__c/describe").json()["recordTypeInfos"]
        layouts = api.get("/sobjects/Subscription__c/describe/layouts/").json()
    assert [(i["developerName"], i["master"]) for i in infos] == [("Master", True), ("Basic", False)]
    [master, basic] = layouts["recordTypeMappings"]
    assert basic["developerName"] == "Basic" and basic["recordTypeId"] == infos[1]["recordTypeId"]
    tier = next(p for p in basic["picklistsForRecordType"] if p["picklistName"] == "Tier__c")
    assert [v["value"] for v in tier["picklistValues"]] == ["Bronze"]
    assert emu.calls["describe_layouts"] == 1


def test_duplicates_detected_carries_the_duplicate_result(emulator_factory):
    emu = emulator_factory(org=new_org(OrgOptions(duplicate_rules=(("Lead", "Email"),))))
    first = emu.org.seed("Lead", {"LastName": "Ng", "Company": "A", "Email": "ann@example.com"})
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "LastName": "Ng", "Company": "A",
                                             "Email": "ann@example.com"}]}
    with _api(emu) as api:
        [refused] = api.post("/composite/sobjects", json=body).json()
        [saved] = api.post("/composite/sobjects", json=body, headers={
            "Sforce-Duplicate-Rule-Header": "allowSave=true"}).json()
    [error] = refused["errors"]
    assert error["statusCode"] == "DUPLICATES_DETECTED"
    [match] = error["duplicateResult"]["matchResults"]
    assert [r["record"]["Id"] for r in match["matchRecords"]] == [first]
    assert saved["success"] is True


def test_emulator_flags_make_such_orgs():
    parser = argparse.ArgumentParser()
    add_flags(parser)
    org = org_from(parser.parse_args(["--record-type", "Lead:Partner", "--currencies", "USD,EUR", "--person-accounts",
                                      "--duplicate-rule", "Lead.Email", "--assignment-rule", "--external-id",
                                      "Account"]))
    assert org is not None
    assert [rt.developer_name for rt in org.record_types("Lead")] == ["Master", "Partner"]
    assert org.describe("Lead").field("CurrencyIsoCode") is not None
    assert org.describe("Account").field("IsPersonAccount") and org.describe("Account").field("External_Id__c")
    assert org.duplicate_rules and org.default_assignment_rule
    assert not org.hard_delete_allowed  # "Bulk API Hard Delete" is off unless asked for
    granted = org_from(parser.parse_args(["--bulk-api-hard-delete"]))
    assert granted is not None and granted.hard_delete_allowed
    assert org_from(parser.parse_args([])) is None
