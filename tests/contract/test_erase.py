"""Erasing a person on every adapter: every record found and deleted, idempotent, invalid requests refused."""

from __future__ import annotations

import pytest

from core.erasure import EraseRefused, EraseService, PersonIdentifier
from core.model import Outcome, ResultError
from tests.contract.test_converted_leads import org_of

PERSON = (PersonIdentifier("Lead", "Email", ("ann@x.com",)), PersonIdentifier("Contact", "Email", ("ann@x.com",)),
          PersonIdentifier("Subscription__c", "External_Id__c", ("ANN-1",)))


def hold_ann(org) -> set[str]:
    """Ann in 2 Leads, 2 Contacts and 1 custom object record; plus records of someone else."""
    ids = {org.seed("Lead", {"LastName": "Ng", "Company": "A", "Email": e}) for e in ("ann@x.com", "ANN@x.com")}
    ids |= {org.seed("Contact", {"LastName": "Ng", "Email": "ann@x.com"}) for _ in range(2)}
    ids.add(org.seed("Subscription__c", {"External_Id__c": "ANN-1", "Plan__c": "p"}))
    org.seed("Lead", {"LastName": "Bo", "Company": "B", "Email": "bo@x.com"})
    org.seed("Contact", {"LastName": "Bo", "Email": "bo@x.com"})
    return ids


def test_erase_deletes_every_record_of_the_person_and_a_second_request_finds_nothing(backend):
    org = org_of(backend)
    ids = hold_ann(org)
    service, conn = EraseService(backend.factory), backend.connection_for("acme")
    first = service.erase(conn, PERSON)
    assert {r.record_id for r in first.records} == ids
    assert {(r.status, r.outcome, r.in_recycle_bin) for r in first.records} == {(204, Outcome.DELETED, True)}
    assert {r.found_by for r in first.records if r.object_name == "Subscription__c"} == {
        "identifiers[2] (Subscription__c.External_Id__c)"}
    assert [r["Email"] for r in org.records("Lead")] == ["bo@x.com"]
    # a describe per object (counted apart, cached afterwards); the three queries in one Composite call and one
    # delete of all five records, whatever their objects
    assert first.describe_calls == 3 and first.api_calls - first.describe_calls == 2
    if backend.emulators:  # what Salesforce saw: the queries and the delete went as Composite subrequests
        emulator = backend.emulators["acme"]
        assert (emulator.calls["composite"], emulator.subrequests["query"]) == (2, 3)
        assert emulator.subrequests["collection_delete"] == 1 and emulator.api_calls == first.api_calls
    again = service.erase(conn, PERSON)
    assert again.records == () and (again.api_calls, again.describe_calls) == (1, 0)  # the queries: no write
    print(f"erase: {len(first.records)} records in {first.api_calls - first.describe_calls} calls "
          f"(+{first.describe_calls} describes), the repeat {again.api_calls}")


def test_a_converted_lead_is_followed_to_its_contact(backend):
    org = org_of(backend)
    lead = org.seed("Lead", {"LastName": "Ng", "Company": "A", "Email": "ann@x.com"})
    contact = org.convert_lead(lead)
    report = EraseService(backend.factory).erase(backend.connection_for("acme"), PERSON[:1])
    assert {(r.object_name, r.record_id) for r in report.records} == {("Lead", lead), ("Contact", contact)}
    assert next(r.found_by for r in report.records if r.record_id == contact) == f"Lead {lead} was converted to it"


def in_recycle_bin(org, ids: set[str]) -> set[str]:
    """Which of these ids queryAll finds deleted (in the recycle bin), whatever their objects."""
    return {r["Id"] for obj in ("Lead", "Contact", "Subscription__c")
            for r in org.select(obj, lambda row: row["Id"] in ids and row.get("IsDeleted"), include_deleted=True)}


def test_hard_delete_where_allowed_leaves_nothing_in_the_recycle_bin(backend):
    org = org_of(backend)
    org.hard_delete_allowed = True  # the API user holds "Bulk API Hard Delete"
    ids = hold_ann(org)
    service, conn = EraseService(backend.factory), backend.connection_for("acme")
    report = service.erase(conn, PERSON, hard_delete=True)
    assert {r.record_id for r in report.records} == ids and report.hard_delete_refused == ""
    assert {(r.status, r.outcome, r.in_recycle_bin, r.note) for r in report.records} == {
        (204, Outcome.DELETED, False, "")}
    assert in_recycle_bin(org, ids) == set()  # queryAll does not find them either
    # the three queries in one Composite call; a hardDelete job per object: create, upload, close, one poll,
    # the successful results
    assert report.api_calls - report.describe_calls == 1 + 3 * 5
    if backend.emulators:
        emulator = backend.emulators["acme"]
        assert (emulator.calls["bulk_create"], emulator.calls["bulk_results"]) == (3, 3)
        assert emulator.subrequests["collection_delete"] == 0
    assert service.erase(conn, PERSON, hard_delete=True).records == ()
    print(f"erase with hard delete: {len(report.records)} records in {report.api_calls - report.describe_calls} "
          f"calls (+{report.describe_calls} describes)")


def test_hard_delete_where_not_allowed_goes_to_the_recycle_bin_and_says_so(backend):
    org = org_of(backend)
    ids = hold_ann(org)
    report = EraseService(backend.factory).erase(backend.connection_for("acme"), PERSON, hard_delete=True)
    assert {r.record_id for r in report.records} == ids
    assert {(r.status, r.in_recycle_bin, r.note) for r in report.records} == {
        (204, True, "hard delete refused: deleted to the recycle bin")}
    assert "FEATURENOTENABLED" in report.hard_delete_refused and "recycle bin" in report.hard_delete_refused
    assert in_recycle_bin(org, ids) == ids
    # the queries, the refused job (its creation), one collections delete: the recycle-bin figure plus one
    assert report.api_calls - report.describe_calls == 3
    if backend.emulators:
        assert backend.emulators["acme"].calls["bulk_create"] == 1


def test_a_hard_delete_refused_for_one_record_reports_it_and_deletes_the_others(backend):
    org = org_of(backend)
    org.hard_delete_allowed = True
    ids = hold_ann(org)
    kept = sorted(i for i in ids if i.startswith(org.describe("Contact").key_prefix))[0]
    org.faults.add(ResultError("DELETE_FAILED", "Your attempt to delete this record failed"), record_id=kept,
                   times=None)
    report = EraseService(backend.factory).erase(backend.connection_for("acme"), PERSON, hard_delete=True)
    failed = [r for r in report.records if r.error is not None]
    assert [(r.record_id, r.error.code, r.in_recycle_bin) for r in failed] == [(kept, "DELETE_FAILED", False)]
    assert {r.record_id for r in report.records if r.status == 204} == ids - {kept}
    assert report.hard_delete_refused == "" and in_recycle_bin(org, ids) == set()


@pytest.mark.parametrize("bad,path", [
    (PersonIdentifier("Nope__c", "Email", ("a",)), "identifiers[1].object"),
    (PersonIdentifier("Lead", "Description", ("a",)), "identifiers[1].field"),
    (PersonIdentifier("Lead", "Email OR 1=1", ("a",)), "identifiers[1].field"),
    (PersonIdentifier("Lead", "Email", ()), "identifiers[1].values"),
])
def test_a_request_with_any_invalid_part_is_refused_whole(backend, bad, path):
    org = org_of(backend)
    ids = hold_ann(org)
    with pytest.raises(EraseRefused) as refused:
        EraseService(backend.factory).erase(backend.connection_for("acme"), (PERSON[0], bad))
    assert [p for p, _ in refused.value.problems] == [path]
    assert ids <= {r["Id"] for obj in ("Lead", "Contact", "Subscription__c") for r in org.records(obj)}
