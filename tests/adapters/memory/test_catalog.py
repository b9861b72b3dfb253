"""The in-memory org's describe metadata and its REST JSON shape."""

from __future__ import annotations

import pytest

from adapters.memory.catalog import (
    STANDARD_CATALOG,
    describe_from_json,
    describe_json,
    global_describe_json,
)
from adapters.memory.describe_json import field_json
from adapters.memory.ids import IdFactory
from core.describe import FieldDescribe, PicklistValue
from core.names import normalize_id


def test_ids_have_the_key_prefix_a_valid_checksum_and_18_characters():
    ids = IdFactory()
    for prefix in ("00Q", "003", "001", "006", "500", "a0S"):
        rid = ids.new_id(prefix)
        assert len(rid) == 18 and rid.startswith(prefix)
        assert normalize_id(rid) == rid
        assert normalize_id(rid[:15]) == rid
        assert normalize_id(rid.upper()) == rid  # the suffix recovers lost letter case


def test_ids_are_unique():
    ids = IdFactory()
    assert len({ids.new_id("00Q") for _ in range(20000)}) == 20000


def test_ids_from_a_fixed_start_are_deterministic():
    assert IdFactory(start=0).new_id("00Q") == IdFactory(start=0).new_id("00Q") == "00QHs0000000000MAA"


def test_key_prefixes_are_salesforce_s():
    assert {name: o.key_prefix for name, o in STANDARD_CATALOG.items()} == {
        "Lead": "00Q", "Contact": "003", "Account": "001", "Opportunity": "006", "Case": "500", "User": "005",
        "RecordType": "012", "Subscription__c": "a0S"}


def test_required_on_create_matches_salesforce():
    required = {name: {f.name for f in o.fields if f.required_on_create} for name, o in STANDARD_CATALOG.items()}
    assert required == {"Lead": {"LastName", "Company"}, "Contact": {"LastName"}, "Account": {"Name"},
                        "Opportunity": {"Name", "StageName", "CloseDate"}, "Case": set(),
                        "User": {"Username", "LastName", "Email", "Alias", "TimeZoneSidKey", "LocaleSidKey",
                                 "EmailEncodingKey", "ProfileId", "LanguageLocaleKey"},
                        "RecordType": {"Name", "DeveloperName", "SobjectType"}, "Subscription__c": set()}


@pytest.mark.parametrize("object_name", sorted(STANDARD_CATALOG))
def test_every_object_has_an_id_lookup_id_and_long_text_areas_are_not_filterable(object_name):
    o = STANDARD_CATALOG[object_name]
    id_field = o.field("Id")
    assert id_field.type == "id" and id_field.id_lookup and id_field.filterable
    assert not id_field.createable and not id_field.updateable
    long_text = [f for f in o.fields if f.type == "textarea" and f.length > 255]
    assert all(not f.filterable for f in long_text)
    if object_name in ("Lead", "Contact", "Account", "Opportunity", "Case"):
        assert o.field("Description") in long_text and o.field("Description").length == 32000
    assert all(f.label for f in o.fields)


def test_booleans_are_never_null_but_defaulted_so_never_required():
    booleans = [f for o in STANDARD_CATALOG.values() for f in o.fields if f.type == "boolean"]
    assert booleans and all(not f.nillable and f.defaulted_on_create and not f.required_on_create for f in booleans)


def test_lead_flags():
    lead = STANDARD_CATALOG["Lead"]
    email = lead.field("Email")
    assert email.type == "email" and email.filterable and email.id_lookup and not email.external_id
    status = lead.field("Status")
    assert not status.nillable and status.defaulted_on_create and not status.required_on_create
    assert status.default_picklist_value == "Open - Not Contacted"
    assert not lead.field("IsConverted").updateable and not lead.field("CreatedDate").createable
    assert lead.field("LastName").length == 80 and lead.field("LastName").label == "Last Name"
    assert lead.field("OwnerId").reference_to == ("Group", "User")


def test_lead_has_the_fields_a_real_lead_has():
    lead = STANDARD_CATALOG["Lead"]
    assert {"HasOptedOutOfEmail", "DoNotCall", "HasOptedOutOfFax", "Rating", "Salutation", "Fax"} <= {
        f.name for f in lead.fields}
    assert lead.field("HasOptedOutOfEmail").label == "Email Opt Out" and lead.field("DoNotCall").type == "boolean"
    assert [p.value for p in lead.field("Rating").picklist_values] == ["Hot", "Warm", "Cold"]
    assert lead.field("Salutation").type == "picklist" and lead.field("Fax").type == "phone"


def test_account_name_is_no_upsert_key_but_opportunity_name_is_an_id_lookup():
    # As real orgs describe them: Account.Name cannot key a REST upsert; neither is an external id.
    name = STANDARD_CATALOG["Account"].field("Name")
    assert not name.id_lookup and not name.external_id and name.required_on_create
    opportunity_name = STANDARD_CATALOG["Opportunity"].field("Name")
    assert opportunity_name.id_lookup and not opportunity_name.external_id


def test_the_external_id_field_is_unique_lookup_and_filterable():
    ext = STANDARD_CATALOG["Subscription__c"].field("External_Id__c")
    assert ext.external_id and ext.id_lookup and ext.unique and ext.filterable and not ext.case_sensitive


@pytest.mark.parametrize("object_name", sorted(STANDARD_CATALOG))
def test_describe_json_round_trips(object_name):
    o = STANDARD_CATALOG[object_name]
    assert describe_from_json(describe_json(o)) == o


def test_describe_json_has_the_rest_shape():
    d = describe_json(STANDARD_CATALOG["Lead"])
    assert (d["name"], d["keyPrefix"], d["label"], d["labelPlural"]) == ("Lead", "00Q", "Lead", "Leads")
    assert d["urls"]["describe"] == "/services/data/v66.0/sobjects/Lead/describe"
    company = next(f for f in d["fields"] if f["name"] == "Company")
    assert {
        "name": "Company", "label": "Company", "type": "string", "length": 255, "byteLength": 765,
        "nillable": False, "createable": True, "updateable": True, "filterable": True, "defaultedOnCreate": False,
        "externalId": False, "idLookup": False, "unique": False, "caseSensitive": False, "custom": False,
        "soapType": "xsd:string"}.items() <= company.items()
    status = next(f for f in d["fields"] if f["name"] == "Status")
    assert "Open - Not Contacted" in [p["value"] for p in status["picklistValues"]]
    contact_account = next(f for f in describe_json(STANDARD_CATALOG["Contact"])["fields"] if f["name"] == "AccountId")
    assert contact_account["referenceTo"] == ["Account"] and contact_account["relationshipName"] == "Account"
    ext = next(f for f in describe_json(STANDARD_CATALOG["Subscription__c"])["fields"]
               if f["name"] == "External_Id__c")
    assert ext["custom"] and ext["externalId"] and ext["idLookup"] and ext["unique"]


def test_describe_from_json_reads_missing_flags_as_no():
    o = describe_from_json({"name": "Thing__c", "fields": [{"name": "Id", "type": "id"}]})
    f = o.field("id")
    assert o.key_prefix == "" and not o.createable
    assert f.nillable and not (f.createable or f.updateable or f.filterable or f.id_lookup)


def test_global_describe_json_lists_every_object():
    g = global_describe_json(STANDARD_CATALOG.values())
    assert g["encoding"] == "UTF-8" and g["maxBatchSize"] == 200
    assert {s["name"]: s["keyPrefix"] for s in g["sobjects"]}["Opportunity"] == "006"
    assert {s["name"] for s in g["sobjects"] if s["custom"]} == {"Subscription__c"}
    assert all("fields" not in s for s in g["sobjects"])


def test_a_hand_built_field_describes_like_a_real_field_of_its_type():
    amount = FieldDescribe("Amount__c", "currency", "Amount")
    assert (amount.precision, amount.scale, amount.soap_type, amount.groupable, amount.custom) == (
        18, 2, "xsd:double", False, True)
    notes = FieldDescribe("Notes", "textarea", "Notes", 32000, filterable=False)
    assert (notes.byte_length, notes.extra_type_info, notes.sortable, notes.aggregatable) == (
        96000, "plaintextarea", False, False)
    owner = FieldDescribe("OwnerId", "reference", "Owner ID", 18, reference_to=("User",))
    assert field_json(owner)["referenceTo"] == ["User"] and not field_json(owner)["polymorphicForeignKey"]


def test_describe_from_json_keeps_picklists_lookups_and_numbers():
    o = describe_from_json({"name": "Thing__c", "fields": [
        {"name": "Stage__c", "type": "picklist", "restrictedPicklist": True, "picklistValues": [
            {"value": "A", "label": "Ay", "active": True, "defaultValue": True},
            {"value": "B", "label": "B", "active": False, "defaultValue": False}]},
        {"name": "Parent__c", "type": "reference", "referenceTo": ["Account"], "relationshipName": "Parent__r"},
        {"name": "Rate__c", "type": "percent", "precision": 5, "scale": 2}]})
    stage, parent, rate = o.fields
    assert stage.picklist_values == (PicklistValue("A", "Ay", True, True), PicklistValue("B", "B", False, False))
    assert stage.default_picklist_value == "A" and stage.restricted_picklist
    assert (parent.reference_to, parent.relationship_name) == (("Account",), "Parent__r")
    assert (rate.precision, rate.scale) == (5, 2)
