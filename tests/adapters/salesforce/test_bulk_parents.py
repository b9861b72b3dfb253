"""Parent keys through Bulk API 2.0: relationship columns (Account.External_Id__c, User:Owner.Username)."""

from __future__ import annotations

from adapters.memory.org import Org
from adapters.memory.org_options import OrgOptions, catalog_for
from core.model import Action, Event, FieldMapping, Operation, ParentKey, ValueSource
from tests.adapters.salesforce.harness import harness
from tests.adapters.salesforce.test_bulk import uploads


def test_bulk_rows_carry_relationship_columns_and_fail_alone(emulator_factory):
    emu = emulator_factory(org=Org(catalog_for(OrgOptions(external_ids=("Account",)))))
    acme = emu.org.seed("Account", {"Name": "Acme", "External_Id__c": "A-1"})
    action = Action("Contact", Operation.CREATE, (), None, (
        FieldMapping("LastName", ValueSource.of_path("traits.last_name")),
        FieldMapping("AccountId", ValueSource.of_path("traits.company_id"), ParentKey("External_Id__c")),
        FieldMapping("OwnerId", ValueSource.of_path("traits.owner"), ParentKey("Username", "User"))))
    events = [Event(f"e{i}", {"traits": {"last_name": f"N{i}", "company_id": key,
                                         "owner": "api.user@sfdest.example"}})
              for i, key in enumerate(["A-1", "NOPE", "a-1"])]
    with harness(emu, bulk_threshold=1) as h:
        report = h.apply(action, events)
    assert [r.status for r in report.results] == [201, 422, 201]
    assert report.results[1].error.code == "PARENT_NOT_FOUND"
    [[header, *rows]] = uploads(emu)
    assert header == ["LastName", "Account.External_Id__c", "Owner.Username"]
    assert [row[1] for row in rows] == ["A-1", "NOPE", "a-1"]
    created = emu.org.get("Contact", report.results[0].record_id)
    assert created["AccountId"] == acme and created["OwnerId"] == emu.org.owner_id


def test_a_polymorphic_relationship_column_names_the_parent_object(emulator):
    action = Action("Case", Operation.CREATE, (), None, (
        FieldMapping("Subject", ValueSource.of_path("traits.subject")),
        FieldMapping("OwnerId", ValueSource.of_path("traits.owner"), ParentKey("Username", "User"))))
    events = [Event(f"e{i}", {"traits": {"subject": f"S{i}", "owner": "api.user@sfdest.example"}}) for i in range(2)]
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(action, events)
    assert [r.status for r in report.results] == [201, 201]
    [[header, *_]] = uploads(emulator)
    assert header == ["Subject", "User:Owner.Username"]
    assert emulator.org.get("Case", report.results[1].record_id)["OwnerId"] == emulator.org.owner_id
