"""Single-record sObject calls and describe: statuses and bodies as Salesforce answers them."""

from __future__ import annotations

from tests.tools.emulator.helpers import V, error_code, lead

SUB = "Subscription__c"


def test_create_is_201_with_id_success_errors(emulator, api):
    response = api.post(f"{V}/sobjects/Lead/", json=lead(Email="a@example.com"))
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["errors"] == [] and body["id"].startswith("00Q") and len(body["id"]) == 18
    assert emulator.org.get("Lead", body["id"])["Email"] == "a@example.com"
    assert emulator.calls["sobject_create"] == 1


def test_create_missing_required_field_is_400_error_array(api):
    response = api.post(f"{V}/sobjects/Lead", json={"LastName": "Ng"})
    assert response.status_code == 400
    assert response.json() == [{"message": "Required fields are missing: [Company]",
                                "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Company"]}]


def test_get_update_delete_round_trip(emulator, api):
    rid = emulator.org.seed("Lead", lead())
    got = api.get(f"{V}/sobjects/Lead/{rid}", params={"fields": "Email,Company"})
    assert got.status_code == 200
    assert got.json()["attributes"] == {"type": "Lead", "url": f"{V}/sobjects/Lead/{rid}"}
    assert got.json()["Company"] == "Acme"
    assert api.patch(f"{V}/sobjects/Lead/{rid}", json={"Email": "new@example.com"}).status_code == 204
    assert emulator.org.get("Lead", rid)["Email"] == "new@example.com"
    assert api.delete(f"{V}/sobjects/Lead/{rid}").status_code == 204
    again = api.delete(f"{V}/sobjects/Lead/{rid}")
    assert again.status_code == 404 and error_code(again) == "ENTITY_IS_DELETED"
    assert error_code(api.get(f"{V}/sobjects/Lead/{rid}")) == "ENTITY_IS_DELETED"


def test_missing_record_and_non_id_segment_are_404(emulator, api):
    rid = emulator.org.seed("Lead", lead())
    emulator.org.delete("Lead", rid)
    never = "00QHs0000000001AAA"
    assert api.get(f"{V}/sobjects/Lead/{never[:15]}").status_code == 404
    not_an_id = api.get(f"{V}/sobjects/Lead/23foo")
    assert not_an_id.status_code == 404
    assert not_an_id.json()[0]["message"] == "Provided external ID field does not exist or is not accessible: 23foo"
    assert api.get(f"{V}/sobjects/Leed/{rid}").status_code == 404


def test_upsert_by_external_id_creates_201_then_updates_200(emulator, api):
    url = f"{V}/sobjects/{SUB}/External_Id__c/EXT%2F1"
    created = api.patch(url, json={"Plan__c": "Gold"})
    assert created.status_code == 201
    assert created.json()["created"] is True
    updated = api.patch(url, json={"Plan__c": "Platinum"})
    assert updated.status_code == 200
    assert updated.json() == {"id": created.json()["id"], "success": True, "errors": [], "created": False}
    record = emulator.org.get(SUB, created.json()["id"])
    assert (record["External_Id__c"], record["Plan__c"]) == ("EXT/1", "Platinum")


def test_upsert_before_api_46_answers_204_on_update(emulator, api):
    url = f"/services/data/v45.0/sobjects/{SUB}/External_Id__c/E-45"
    created = api.patch(url, json={"Plan__c": "Gold"})
    assert created.status_code == 201 and "created" not in created.json()
    assert api.patch(url, json={"Plan__c": "Silver"}).status_code == 204


def test_upsert_with_several_matches_is_300_with_urls_and_writes_nothing(emulator, api):
    first = emulator.org.seed("Lead", lead(Email="dup@example.com"))
    second = emulator.org.seed("Lead", lead(Email="DUP@example.com"))
    response = api.patch(f"{V}/sobjects/Lead/Email/dup@example.com", json={"Company": "Changed"})
    assert response.status_code == 300
    assert response.json() == [f"{V}/sobjects/Lead/{first}", f"{V}/sobjects/Lead/{second}"]
    assert emulator.org.get("Lead", first)["Company"] == "Acme"


def test_upsert_on_a_field_that_is_not_id_lookup_is_404(api):
    response = api.patch(f"{V}/sobjects/Lead/Company/Acme", json={"LastName": "x"})
    assert response.status_code == 404
    assert response.json()[0]["message"] == "Provided external ID field does not exist or is not accessible: Company"


def test_get_by_external_id(emulator, api):
    rid = emulator.org.seed(SUB, {"External_Id__c": "K-1"})
    response = api.get(f"{V}/sobjects/{SUB}/External_Id__c/k-1")
    assert response.status_code == 200 and response.json()["Id"] == rid
    assert api.get(f"{V}/sobjects/{SUB}/External_Id__c/none").status_code == 404


def test_non_json_body_is_415(api):
    response = api.post(f"{V}/sobjects/Lead", content=b"LastName=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_describe_and_global_describe_come_from_the_catalog(api):
    describe = api.get(f"{V}/sobjects/Lead/describe").json()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["keyPrefix"] == "00Q"
    assert fields["Description"]["filterable"] is False
    assert fields["Company"]["nillable"] is False
    names = [o["name"] for o in api.get(f"{V}/sobjects/").json()["sobjects"]]
    assert "Lead" in names and SUB in names
    missing = api.get(f"{V}/sobjects/Nope/describe")
    assert missing.status_code == 404 and error_code(missing) == "NOT_FOUND"
