"""The in-memory org behaves as Salesforce does wherever a client can see it."""

from __future__ import annotations

import re
import threading

import pytest

from adapters.memory.org import Org
from adapters.memory.results import OrgError
from core.describe import FieldDescribe, ObjectDescribe
from core.names import normalize_id, to_18
from core.ports import FieldIn, Lookup, RecordRefusal


def lead(last="Ng", company="Acme", **extra):
    return {"LastName": last, "Company": company, **extra}


@pytest.fixture
def org():
    return Org()


def where(*terms):
    return (tuple(FieldIn(name, tuple(values)) for name, values in terms),)


def ids_of(records):
    return [r["Id"] for r in records]


# Creating --------------------------------------------------------------------------------------
def test_create_returns_an_18_character_id_of_the_object(org):
    result = org.create("Lead", lead())
    assert result.success and result.created and not result.errors
    assert result.id.startswith("00Q") and normalize_id(result.id) == result.id


def test_create_fills_salesforce_defaults(org):
    rid = org.seed("Lead", lead(FirstName="Ann"))
    record = org.get("Lead", rid)
    assert record["Status"] == "Open - Not Contacted" and record["IsConverted"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", record["CreatedDate"])
    assert record["Name"] == "Ann Ng" and record["OwnerId"].startswith("005")
    case = org.get("Case", org.seed("Case", {"Subject": "Help"}))
    assert (case["Status"], case["Priority"]) == ("New", "Medium") and case["CaseNumber"].isdigit()
    opp = org.get("Opportunity", org.seed("Opportunity", {"Name": "Deal", "StageName": "Prospecting",
                                                          "CloseDate": "2024-06-30"}))
    assert opp["Probability"] == 10


def test_defaults_follow_the_describe(org):
    # Picklist defaults are the values describe marks defaultValue; checkboxes start false; audit ids are the API user.
    record = org.get("Lead", org.seed("Lead", lead()))
    assert (record["HasOptedOutOfEmail"], record["DoNotCall"], record["IsUnreadByOwner"]) == (False, False, False)
    assert record["CreatedById"] == record["LastModifiedById"] == record["OwnerId"] == org.owner_id
    assert record["SystemModstamp"] == record["CreatedDate"] and record["Rating"] is None
    opp = org.get("Opportunity", org.seed("Opportunity", {"Name": "Deal", "StageName": "Perception Analysis",
                                                          "CloseDate": "2024-06-30"}))
    assert opp["Probability"] == 70 and opp["IsClosed"] is False


def test_the_api_user_is_a_live_user_record(org):
    assert org.get("User", org.owner_id, ["Name", "IsActive"]) == {"Id": org.owner_id, "Name": "API User",
                                                                    "IsActive": True}
    assert org.create("Lead", lead(OwnerId=org.owner_id)).success
    queue, stranger_id = to_18("00GHs0000000001"), to_18("005Hs0000000001")
    assert org.create("Lead", lead(OwnerId=queue)).success  # a queue (Group) may own a lead
    stranger = org.create("Lead", lead(OwnerId=stranger_id))
    assert stranger.error == RecordRefusal("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ("OwnerId",))
    account = org.create("Account", {"Name": "Acme", "OwnerId": queue})
    assert account.error.code == "MALFORMED_ID"  # an Account's owner is a User, never a queue


def test_values_are_stored_by_type(org):
    rid = org.seed("Subscription__c", {"External_Id__c": 42, "Seats__c": "12.50", "Active__c": "TRUE",
                                       "Renewal_Date__c": "2024-06-30"})
    record = org.get("Subscription__c", rid)
    assert record["External_Id__c"] == "42" and record["Seats__c"] == 12.5
    assert record["Active__c"] is True and record["Renewal_Date__c"] == "2024-06-30"
    assert record["Name"] == rid  # a custom object's Name defaults to the id


@pytest.mark.parametrize("body,missing", [
    ({"Company": "Acme"}, ["LastName"]),
    ({}, ["LastName", "Company"]),
    ({"LastName": "", "Company": "Acme"}, ["LastName"]),  # Salesforce stores "" as null
    ({"LastName": None, "Company": "Acme"}, ["LastName"]),
])
def test_required_fields_missing_on_create(org, body, missing):
    result = org.create("Lead", body)
    assert not result.success and result.id == ""
    assert result.error == RecordRefusal("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                                       tuple(missing))


@pytest.mark.parametrize("object_name,body", [
    ("Contact", {"FirstName": "Ann"}),
    ("Account", {"Website": "x.com"}),
    ("Opportunity", {"Name": "Deal", "CloseDate": "2024-06-30"}),
])
def test_each_object_requires_its_fields(org, object_name, body):
    assert org.create(object_name, body).error.code == "REQUIRED_FIELD_MISSING"


def test_case_requires_nothing(org):
    assert org.create("Case", {}).success


def test_string_too_long_names_the_label_and_limit(org):
    result = org.create("Lead", lead(last="x" * 81))
    assert result.error == RecordRefusal("STRING_TOO_LONG", f"Last Name: data value too large: {'x' * 81} (max length=80)",
                                       ("LastName",))
    assert org.create("Lead", lead(last="x" * 80)).success


@pytest.mark.parametrize("field,value", [("AnnualRevenue", "abc"), ("NumberOfEmployees", "12.5"),
                                         ("NumberOfEmployees", True), ("IsConverted", "maybe")])
def test_values_of_the_wrong_type_are_refused(org, field, value):
    if field == "IsConverted":
        field, obj, body = "Active__c", "Subscription__c", {}
    else:
        obj, body = "Lead", lead()
    result = org.create(obj, {**body, field: value})
    assert result.error.code == "INVALID_TYPE_ON_FIELD_IN_RECORD" and result.error.fields == (field,)
    assert result.error.message.endswith(f"value not of required type: {value}")


def test_amount_message_uses_the_label(org):
    result = org.create("Opportunity", {"Name": "D", "StageName": "Prospecting", "CloseDate": "2024-06-30",
                                        "Amount": "abc"})
    assert result.error.message == "Amount: value not of required type: abc"


def test_unknown_field_is_invalid_field(org):
    result = org.create("Lead", lead(Foo__c=1))
    assert result.error == RecordRefusal("INVALID_FIELD", "No such column 'Foo__c' on sobject of type Lead")


def test_read_only_fields_cannot_be_written(org):
    result = org.create("Lead", lead(ConvertedDate="2024-01-01", CreatedDate="2024-01-01T00:00:00Z"))
    assert result.error.code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert result.error.fields == ("ConvertedDate", "CreatedDate")
    assert result.error.message.startswith("Unable to create/update fields: ConvertedDate, CreatedDate. Please check")
    rid = org.seed("Lead", lead())
    assert org.update("Lead", rid, {"Name": "x"}).error.code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    # IsConverted is createable but not updateable, as a real org's describe says.
    converted = org.seed("Lead", lead(IsConverted=True))
    assert org.get("Lead", converted)["IsConverted"] is True
    assert org.update("Lead", converted, {"IsConverted": False}).error.fields == ("IsConverted",)


def test_id_cannot_be_given_on_create(org):
    assert org.create("Lead", lead(Id="00QHs0000000000MAA")).error.code == "INVALID_FIELD"


def test_field_names_are_case_insensitive_and_answered_in_describe_case(org):
    rid = org.seed("lead", {"lastname": "Ng", "COMPANY": "Acme", "email": "a@x.com"})
    assert org.get("LEAD", rid, ["EMAIL"]) == {"Id": rid, "Email": "a@x.com"}


def test_invalid_email_is_refused(org):
    assert org.create("Lead", lead(Email="not an email")).error.code == "INVALID_EMAIL_ADDRESS"


# Uniqueness -------------------------------------------------------------------------------------
def test_external_id_duplicates_are_refused_case_insensitively(org):
    first = org.seed("Subscription__c", {"External_Id__c": "S-1"})
    result = org.create("Subscription__c", {"External_Id__c": "s-1"})
    assert result.error == RecordRefusal(
        "DUPLICATE_VALUE", f"duplicate value found: External_Id__c duplicates value on record with id: {first}",
        ("External_Id__c",))
    other = org.seed("Subscription__c", {"External_Id__c": "S-2"})
    assert org.update("Subscription__c", other, {"External_Id__c": "S-1"}).error.code == "DUPLICATE_VALUE"
    assert org.update("Subscription__c", first, {"External_Id__c": "s-1"}).success  # its own value


def test_a_deleted_record_frees_its_external_id(org):
    rid = org.seed("Subscription__c", {"External_Id__c": "S-1"})
    org.delete("Subscription__c", rid)
    assert org.create("Subscription__c", {"External_Id__c": "S-1"}).success


# Updating and deleting ----------------------------------------------------------------------------
def test_update_changes_and_clears_fields(org):
    rid = org.seed("Lead", lead(FirstName="Ann", Phone="555"))
    assert org.update("Lead", rid[:15], {"FirstName": "Annabel", "Phone": None}).id == rid
    record = org.get("Lead", rid)
    assert (record["FirstName"], record["Phone"], record["Name"]) == ("Annabel", None, "Annabel Ng")


def test_update_cannot_clear_a_required_field(org):
    rid = org.seed("Lead", lead())
    result = org.update("Lead", rid, {"Company": ""})
    assert (result.success, result.id) == (False, rid)
    assert result.error == RecordRefusal("REQUIRED_FIELD_MISSING", "Required fields are missing: [Company]",
                                       ("Company",))


@pytest.mark.parametrize("bad", ["00Q123", "not an id at all", "001Hs0000000000IAA", "00QHs0000000000MAB"])
def test_malformed_or_foreign_ids_are_malformed_id(org, bad):
    for result in (org.update("Lead", bad, {"FirstName": "x"}), org.delete("Lead", bad)):
        assert result.error == RecordRefusal("MALFORMED_ID", f"Lead ID: id value of incorrect type: {bad}", ("Id",))


def test_deleted_and_never_existing_ids_are_told_apart(org):
    rid = org.seed("Lead", lead())
    assert org.delete("Lead", rid).success
    never = "00QHs0000000000MAA"
    for result in (org.update("Lead", rid, {"FirstName": "x"}), org.delete("Lead", rid)):
        assert (result.error.code, result.error.message) == ("ENTITY_IS_DELETED", "entity is deleted")
    for result in (org.update("Lead", never, {"FirstName": "x"}), org.delete("Lead", never)):
        assert result.error.code == "NOT_FOUND"
    with pytest.raises(OrgError) as deleted:
        org.get("Lead", rid)
    assert (deleted.value.code, deleted.value.status) == ("ENTITY_IS_DELETED", 404)


def test_a_hard_deleted_record_skips_the_recycle_bin(org):
    soft, hard = org.seed("Lead", lead()), org.seed("Lead", lead(Email="hard@x.com"))
    assert org.delete("Lead", soft).success and org.hard_delete("Lead", hard).success
    binned = Lookup("Lead", ("Id", "IsDeleted"), ((FieldIn("Id", (soft, hard)),),), include_deleted=True)
    assert [(r["Id"], r["IsDeleted"]) for r in org.find(binned)] == [(soft, True)]  # queryAll sees the soft one
    assert org.find(Lookup("Lead", ("Id",), ((FieldIn("Id", (soft, hard)),),))) == []
    assert org.update("Lead", hard, {"FirstName": "x"}).error.code == "NOT_FOUND"
    assert org.hard_delete("Lead", soft).error.code == "ENTITY_IS_DELETED"


def test_lookups_must_point_at_a_live_record_of_the_right_object(org):
    account = org.seed("Account", {"Name": "Acme"})
    lead_id = org.seed("Lead", lead())
    assert org.create("Contact", {"LastName": "Ng", "AccountId": account[:15]}).success
    wrong = org.create("Contact", {"LastName": "Ng", "AccountId": lead_id})
    assert wrong.error == RecordRefusal("MALFORMED_ID", f"Account ID: id value of incorrect type: {lead_id}",
                                      ("AccountId",))
    missing = org.create("Contact", {"LastName": "Ng", "AccountId": "001Hs0000000000IAA"})
    assert missing.error.code == "INVALID_CROSS_REFERENCE_KEY"


# Querying ------------------------------------------------------------------------------------------
def test_strings_match_case_insensitively(org):
    ann = org.seed("Lead", lead(Email="Ann@Example.com"))
    org.seed("Lead", lead(Email="bob@example.com"))
    found = org.query("Lead", where(("email", ["ANN@example.COM"])), ["email"])
    assert found == [{"Id": ann, "Email": "Ann@Example.com"}]


@pytest.mark.parametrize("field,stored,asked", [
    ("Seats__c", 12.5, "12.50"), ("Seats__c", 3, 3.0), ("Active__c", True, "true"),
    ("Renewal_Date__c", "2024-06-30", "2024-06-30"), ("Plan__c", "Pro", "PRO"),
])
def test_values_match_by_type(org, field, stored, asked):
    rid = org.seed("Subscription__c", {field: stored})
    assert ids_of(org.query("Subscription__c", where((field, [asked])), [])) == [rid]


def test_ids_match_in_15_and_18_characters(org):
    rid = org.seed("Lead", lead())
    assert ids_of(org.query("Lead", where(("Id", [rid[:15]])), [])) == [rid]
    assert ids_of(org.query("Lead", where(("Id", [rid.lower()])), [])) == [rid]


def test_query_is_an_or_of_ands_in_creation_order(org):
    a = org.seed("Lead", lead(Email="a@x.com", Phone="1"))
    b = org.seed("Lead", lead(Email="a@x.com", Phone="2"))
    c = org.seed("Lead", lead(Email="c@x.com", Phone="1"))
    found = org.find(Lookup("Lead", ("Id",), ((FieldIn("Email", ("a@x.com",)), FieldIn("Phone", ("2",))),
                                              (FieldIn("Email", ("c@x.com",)),))))
    assert ids_of(found) == [b, c]
    assert ids_of(org.query("Lead", (), [])) == [a, b, c]


def test_query_errors_use_salesforce_wording(org):
    with pytest.raises(OrgError) as unfilterable:
        org.query("Lead", where(("Description", ["x"])), [])
    assert unfilterable.value.code == "INVALID_FIELD"
    assert unfilterable.value.message == "field 'Description' can not be filtered in a query call"
    with pytest.raises(OrgError) as unknown:
        org.query("Lead", (), ["Foo__c"])
    assert unknown.value.message.startswith("No such column 'Foo__c' on entity 'Lead'. If you are attempting")
    with pytest.raises(OrgError) as no_object:
        org.query("Leed", (), [])
    assert no_object.value.code == "INVALID_TYPE"
    with pytest.raises(OrgError) as bad_id:
        org.query("Lead", where(("Id", ["nope"])), [])
    assert bad_id.value.code == "INVALID_QUERY_FILTER_OPERATOR"


def test_select_evaluates_a_predicate_over_whole_records(org):
    org.seed("Lead", lead(NumberOfEmployees=5))
    big = org.seed("Lead", lead(NumberOfEmployees=500))
    found = org.select("Lead", lambda r: (r["NumberOfEmployees"] or 0) > 100, ["numberofemployees"])
    assert found == [{"Id": big, "NumberOfEmployees": 500}]
    assert org.match_key("Lead", "email", "A@X.COM") == org.match_key("Lead", "Email", "a@x.com")


def test_describe_of_an_unknown_object_is_not_found(org):
    with pytest.raises(OrgError) as exc:
        org.describe("Leed")
    assert (exc.value.code, exc.value.status) == ("NOT_FOUND", 404)
    with pytest.raises(OrgError) as get:
        org.get("Leed", "00QHs0000000000MAA")
    assert (get.value.code, get.value.status) == ("NOT_FOUND", 404)
    assert org.describe("lead").name == "Lead"
    assert [o.name for o in org.global_describe()][0] == "Lead"


def test_records_snapshot_is_a_copy(org):
    rid = org.seed("Lead", lead())
    org.records("Lead")[0]["LastName"] = "changed"
    assert org.records("Lead")[0]["LastName"] == "Ng" and org.records("Lead")[0]["Id"] == rid


def test_objects_can_be_added(org):
    org.add_object(ObjectDescribe("Thing__c", "a0T", (FieldDescribe("Id", "id", "Thing ID", 18, nillable=False,
                                                                    createable=False, updateable=False,
                                                                    id_lookup=True),)))
    rid = org.seed("Thing__c", {})
    assert rid.startswith("a0T") and org.object_of_id(rid) == "Thing__c"


# Upserting -----------------------------------------------------------------------------------------
def test_upsert_creates_then_updates_by_external_id(org):
    created = org.upsert("Subscription__c", "External_Id__c", "S-1", {"Plan__c": "basic"})
    updated = org.upsert("subscription__c", "external_id__c", "s-1", {"Plan__c": "pro"})
    assert created.success and created.created
    assert updated.success and not updated.created and updated.id == created.id
    assert org.get("Subscription__c", created.id, ["Plan__c"])["Plan__c"] == "pro"


def test_upsert_with_several_matches_writes_nothing_and_names_them(org):
    a = org.seed("Lead", lead(Email="dup@x.com"))
    b = org.seed("Lead", lead(Email="DUP@x.com"))
    result = org.upsert("Lead", "Email", "dup@x.com", {"FirstName": "X"})
    assert not result.success and result.matched_ids == (a, b)
    assert result.error.code == "DUPLICATE_EXTERNAL_ID"
    assert all(r["FirstName"] is None for r in org.records("Lead"))


@pytest.mark.parametrize("object_name,field", [("Lead", "Company"), ("Account", "Name")])
def test_upsert_key_must_be_an_id_lookup_field(org, object_name, field):
    # Account.Name is no idLookup field in a real org's describe, so no REST upsert can key on it.
    with pytest.raises(OrgError) as exc:
        org.upsert(object_name, field, "Acme", {})
    assert exc.value.code == "NOT_FOUND" and exc.value.status == 404
    assert exc.value.message == f"Provided external ID field does not exist or is not accessible: {field}"


def test_one_collections_upsert_refuses_a_key_given_twice(org):
    results = org.upsert_many("Subscription__c", "External_Id__c", [
        {"External_Id__c": "A"}, {"External_Id__c": "a"}, {"External_Id__c": "B"}])
    assert [r.success for r in results] == [False, False, True]
    assert results[0].error.code == "DUPLICATE_EXTERNAL_ID"
    assert [r["External_Id__c"] for r in org.records("Subscription__c")] == ["B"]


def test_save_results_have_the_collections_json_shape(org):
    ok = org.upsert("Subscription__c", "External_Id__c", "S-1", {})
    assert ok.to_json(with_created=True) == {"id": ok.id, "success": True, "errors": [], "created": True}
    bad = org.create("Lead", {"Company": "x"})
    assert bad.to_json() == {"success": False, "errors": [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]",
         "fields": ["LastName"]}]}


# Test hooks and concurrency -------------------------------------------------------------------------
def test_planted_failures_hit_the_matching_record_only(org):
    rid = org.seed("Lead", lead())
    lock = RecordRefusal("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
    org.faults.add(lock, record_id=rid[:15])
    org.faults.add(lock, value="poison@x.com", times=None)
    assert org.update("Lead", rid, {"FirstName": "x"}).error == lock
    assert org.update("Lead", rid, {"FirstName": "x"}).success  # spent after one use
    assert org.create("Lead", lead(Email="Poison@x.com")).error == lock
    assert org.create("Lead", lead(Email="Poison@x.com")).error == lock
    assert org.create("Lead", lead(Email="fine@x.com")).success


def test_concurrent_creates_get_unique_ids(org):
    ids: list[str] = []
    guard = threading.Lock()

    def work(n):
        mine = [org.create("Subscription__c", {"External_Id__c": f"{n}-{i}"}).id for i in range(250)]
        with guard:
            ids.extend(mine)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == len(set(ids)) == 2000 and all(ids)
    assert len(org.records("Subscription__c")) == 2000


def test_concurrent_upserts_of_one_key_create_exactly_one_record(org):
    def work():
        for _ in range(50):
            org.upsert("Subscription__c", "External_Id__c", "same", {"Plan__c": "x"})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(org.records("Subscription__c")) == 1


def test_upsert_on_a_non_unique_custom_external_id_matches_case_exactly_and_trims_the_key():
    org = Org()
    org.add_object(ObjectDescribe("Device__c", "a0D", fields=(
        FieldDescribe("Id", "id", nillable=False, createable=False, updateable=False, defaulted_on_create=True,
                      id_lookup=True),
        FieldDescribe("Serial__c", "string", length=40, external_id=True, id_lookup=True))))
    rid = org.seed("Device__c", {"Serial__c": "  ABC-1\t"})
    assert org.get("Device__c", rid, ["Serial__c"])["Serial__c"] == "ABC-1"  # text is saved trimmed
    assert org.ids_matching("Device__c", "Serial__c", "abc-1") == [rid]  # SOQL ignores case
    assert org.upsert("Device__c", "Serial__c", " ABC-1 ", {}).id == rid  # the upsert key is trimmed
    created = org.upsert("Device__c", "Serial__c", "abc-1", {})  # ... and matched case-exactly
    assert created.success and created.created and created.id != rid
