"""Duplicate rules: DUPLICATES_DETECTED on a create matching an existing record, unless saving is allowed."""

from __future__ import annotations

from tests.emulator.helpers import V

RULE_HEADER = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}


def contact(email: str) -> dict[str, str]:
    return {"LastName": "Lee", "Email": email}


def test_a_create_matching_a_record_names_the_match(emulator, api):
    first = api.post(f"{V}/sobjects/Contact", json=contact("ann@example.com")).json()["id"]
    emulator.add_duplicate_rule("Contact", ["Email"], name="Contact_Rule")
    response = api.post(f"{V}/sobjects/Contact", json=contact(" ANN@example.com "))
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert error["duplicateResut"]["duplicateRule"] == "Contact_Rule"
    [match] = error["duplicateResut"]["matchResults"]
    assert [r["record"]["Id"] for r in match["matchRecords"]] == [first]
    assert api.post(f"{V}/sobjects/Contact", json=contact("bob@example.com")).status_code == 201


def test_allow_save_passes_only_a_rule_that_allows_it(emulator, api):
    api.post(f"{V}/sobjects/Contact", json=contact("ann@example.com"))
    emulator.add_duplicate_rule("Contact", ["Email"], allow_save=True)
    assert api.post(f"{V}/sobjects/Contact", json=contact("ann@example.com")).status_code == 400
    saved = api.post(f"{V}/sobjects/Contact", json=contact("ann@example.com"), headers=RULE_HEADER)
    assert saved.status_code == 201
    emulator.add_duplicate_rule("Contact", ["LastName"])
    blocked = api.post(f"{V}/sobjects/Contact", json=contact("new@example.com"), headers=RULE_HEADER)
    assert blocked.json()[0]["errorCode"] == "DUPLICATES_DETECTED"


def test_a_collection_create_refuses_only_the_duplicate(emulator, api):
    api.post(f"{V}/sobjects/Account", json={"Name": "Acme"})
    emulator.add_duplicate_rule("Account", ["Name"], message="Use one of these records?")
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": "acme"},
                                             {"attributes": {"type": "Account"}, "Name": "Other"}]}
    first, second = api.post(f"{V}/composite/sobjects", json=body).json()
    assert first == {"success": False, "errors": [{"statusCode": "DUPLICATES_DETECTED",
                                                   "message": "Use one of these records?", "fields": []}]}
    assert second["success"] is True
