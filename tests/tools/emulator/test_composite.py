"""The Composite resource over HTTP: subrequests in order, one counted call, limits, allOrNone, references."""

from __future__ import annotations

from tests.tools.emulator.helpers import V, lead

COMPOSITE = f"{V}/composite"


def collection_create(ref: str, *records: dict, all_or_none: bool = False) -> dict:
    body = {"allOrNone": all_or_none, "records": [{"attributes": {"type": "Lead"}, **r} for r in records]}
    return {"method": "POST", "url": f"{V}/composite/sobjects", "referenceId": ref, "body": body}


def query(ref: str, soql: str) -> dict:
    return {"method": "GET", "url": f"{V}/query?q={soql.replace(' ', '+')}", "referenceId": ref}


def test_subrequests_run_in_order_and_cost_one_call(emulator, api):
    emulator.reset_counters()
    body = {"allOrNone": False, "compositeRequest": [
        collection_create("made", lead(Email="a@example.com"), lead(LastName=None)),
        query("found", "SELECT Id, Email FROM Lead")]}
    response = api.post(COMPOSITE, json=body)
    assert response.status_code == 200
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    made, found = response.json()["compositeResponse"]
    assert set(made) == {"body", "httpHeaders", "httpStatusCode", "referenceId"}
    assert made["referenceId"] == "made" and made["httpStatusCode"] == 200 and made["httpHeaders"] == {}
    ok, refused = made["body"]
    assert ok["success"] is True and refused["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert found["httpStatusCode"] == 200 and found["body"]["totalSize"] == 1  # the create ran first
    assert found["body"]["records"][0]["Id"] == ok["id"]
    assert emulator.api_calls == 1 and emulator.calls["composite"] == 1
    assert emulator.subrequests["collection_create"] == 1 and emulator.subrequests["query"] == 1


def test_a_failed_subrequest_does_not_stop_its_neighbours_without_all_or_none(emulator, api):
    body = {"allOrNone": False, "compositeRequest": [
        query("bad", "SELECT Nope__c FROM Lead"), collection_create("made", lead(Email="b@example.com"))]}
    bad, made = api.post(COMPOSITE, json=body).json()["compositeResponse"]
    assert bad["httpStatusCode"] == 400 and bad["body"][0]["errorCode"] == "INVALID_FIELD"
    assert made["httpStatusCode"] == 200 and made["body"][0]["success"] is True
    assert len(emulator.org.records("Lead")) == 1


def test_all_or_none_rolls_every_subrequest_back(emulator, api):
    body = {"allOrNone": True, "compositeRequest": [
        collection_create("first", lead(Email="c@example.com")), collection_create("second", lead(Company=None))]}
    first, second = api.post(COMPOSITE, json=body).json()["compositeResponse"]
    assert first["httpStatusCode"] == 400 and first["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert second["body"][0]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert emulator.org.records("Lead") == []


def test_references_feed_later_subrequests_and_a_failed_reference_halts_its_dependant(emulator, api):
    body = {"allOrNone": False, "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "ann", "body": lead(Email="ann@example.com")},
        {"method": "GET", "url": f"{V}/sobjects/Lead/@{{ann.id}}", "referenceId": "read"},
        {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "bad", "body": {"LastName": "x"}},
        {"method": "GET", "url": f"{V}/sobjects/Lead/@{{bad.id}}", "referenceId": "dependant"}]}
    ann, read, bad, dependant = api.post(COMPOSITE, json=body).json()["compositeResponse"]
    assert ann["httpStatusCode"] == 201 and read["body"]["Email"] == "ann@example.com"
    assert bad["httpStatusCode"] == 400
    assert dependant["httpStatusCode"] == 400 and dependant["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "bad.id" in dependant["body"][0]["message"]


def test_more_than_25_subrequests_is_refused_whole_and_writes_nothing(emulator, api):
    subs = [{"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": f"r{i}", "body": lead()} for i in range(26)]
    response = api.post(COMPOSITE, json={"compositeRequest": subs})
    assert response.status_code == 400
    (entry,) = response.json()["compositeResponse"]
    assert entry["body"] == [{"errorCode": "LIMIT_EXCEEDED", "message": "The request can’t contain more than 25 "
                              "operations."}]
    assert entry["referenceId"] is None and emulator.org.records("Lead") == []
    assert len(api.post(COMPOSITE, json={"compositeRequest": subs[:25]}).json()["compositeResponse"]) == 25


def test_more_than_five_collections_or_queries_is_refused(emulator, api):
    subs = [collection_create(f"c{i}", lead()) for i in range(3)] + [query(f"q{i}", "SELECT Id FROM Lead")
                                                                       for i in range(3)]
    response = api.post(COMPOSITE, json={"compositeRequest": subs})
    assert response.status_code == 400
    assert response.json()["compositeResponse"][0]["body"][0]["errorCode"] == "LIMIT_EXCEEDED"
    assert emulator.org.records("Lead") == []
    ok = api.post(COMPOSITE, json={"compositeRequest": subs[:5]})
    assert [e["httpStatusCode"] for e in ok.json()["compositeResponse"]] == [200] * 5


def test_a_malformed_body_is_a_400_before_anything_runs(emulator, api):
    response = api.post(COMPOSITE, json={"compositeRequest": [{"method": "POST", "url": f"{V}/sobjects/Lead",
                                                               "body": lead()}]})
    assert response.status_code == 400 and emulator.org.records("Lead") == []
