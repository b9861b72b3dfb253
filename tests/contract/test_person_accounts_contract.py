"""Person Accounts through the Person Account preset, on both backends."""

from __future__ import annotations

import pytest

from adapters.memory.org_options import OrgOptions
from core.model import Action, Event, FieldMapping, Operation, Outcome, Preset, RecordMatcher, Severity, ValueSource
from core.ports import FieldIn, Lookup
from core.service import ApplyService, ValidateService


def _person(operation: Operation = Operation.UPSERT, *mappings: FieldMapping) -> Action:
    matchers = () if operation is Operation.CREATE else (
        RecordMatcher("PersonEmail", ValueSource.of_path("traits.email")),)
    return Action("Account", operation, matchers, None, mappings, Preset.PERSON_ACCOUNT)


def _identify(event_id: str, email: str, first: str, last: str) -> Event:
    return Event(event_id, {"traits": {"email": email, "first_name": first, "last_name": last}})


class TestPersonAccountOrg:
    @pytest.fixture
    def org_options(self) -> OrgOptions:
        return OrgOptions(person_accounts=True)

    def test_the_preset_creates_a_person_and_matches_on_person_email(self, backend):
        service, conn = ApplyService(backend.factory), backend.connection_for("acme")
        [created] = service.apply(conn, _person(), [_identify("a", "ann@example.com", "Ann", "Ng")]).results
        [updated] = service.apply(conn, _person(), [_identify("b", "ANN@example.com", "Ann", "Nguyen")]).results
        assert (created.status, updated.status, updated.record_id) == (201, 200, created.record_id)
        [row] = backend.store().find(Lookup("Account", ("Id", "Name", "IsPersonAccount", "RecordTypeId", "PersonEmail"),
                                            ((FieldIn("Id", (created.record_id,)),),)))
        person_type = {rt.developer_name: rt.id for rt in backend.store().record_types("Account")}["PersonAccount"]
        assert (row["Name"], row["IsPersonAccount"], row["RecordTypeId"]) == ("Ann Nguyen", True, person_type)

    def test_a_dry_run_plans_by_person_email(self, backend):
        service, conn = ApplyService(backend.factory), backend.connection_for("acme")
        [created] = service.apply(conn, _person(), [_identify("a", "cy@example.com", "Cy", "Oh")]).results
        plan = service.apply(conn, _person(), [_identify("b", "cy@example.com", "Cy", "O"),
                                               _identify("c", "di@example.com", "Di", "Wu")], dry_run=True).results
        assert [(r.outcome, r.record_id) for r in plan] == [(Outcome.WOULD_UPDATE, created.record_id),
                                                            (Outcome.WOULD_CREATE, "")]

    def test_name_is_never_sent(self, backend):
        service, conn = ApplyService(backend.factory), backend.connection_for("acme")
        service.apply(conn, _person(Operation.CREATE), [_identify("a", "bo@example.com", "Bo", "Li")])
        emulators = getattr(backend, "emulators", None) or {}
        for emulator in emulators.values():
            bodies = [r.body for r in emulator.requests if r.method in ("POST", "PATCH") and b"Bo" in r.body]
            assert bodies and all(b'"Name"' not in b for b in bodies)
        [outcome] = backend.store().create("Account", [{"Name": "Bo Li", "LastName": "Li", "RecordTypeId": {
            rt.developer_name: rt.id for rt in backend.store().record_types("Account")}["PersonAccount"]}])
        assert outcome.said.code == "INVALID_FIELD_FOR_INSERT_UPDATE" and outcome.said.fields == ("Name",)

    def test_an_explicit_name_mapping_is_a_validate_error(self, backend):
        conn = backend.connection_for("acme")
        action = _person(Operation.CREATE, FieldMapping("Name", ValueSource.of_path("traits.name")))
        report = ValidateService(backend.factory).validate(action, conn)
        assert [(d.code, str(d.field_path)) for d in report.errors] == [("PERSON_ACCOUNT_NAME_MAPPED",
                                                                    "action.field_mappings[0].field")]
        assert ValidateService(backend.factory).validate(_person(), conn).valid

    def test_business_accounts_still_need_a_name(self, backend):
        conn = backend.connection_for("acme")
        business = Action("Account", Operation.CREATE, (), None, (), Preset.ACCOUNT, record_type="Business_Account")
        [result] = ApplyService(backend.factory).apply(conn, business, [Event("g", {"groupId": "g1"})]).results
        assert (result.status, result.error.code) == (400, "REQUIRED_VALUE_MISSING")


def test_an_org_without_person_accounts_refuses_the_preset(backend):
    report = ValidateService(backend.factory).validate(_person(), backend.connection_for("acme"))
    assert [(d.code, str(d.field_path)) for d in report.diagnostics if d.severity is Severity.ERROR] == [
        ("UNKNOWN_FIELD", "action.record_matchers[0].field"),
        ("UNKNOWN_FIELD", "action.preset(PersonAccount).FirstName"),
        ("UNKNOWN_FIELD", "action.preset(PersonAccount).LastName"),
        ("UNKNOWN_FIELD", "action.preset(PersonAccount).PersonEmail"),
        ("PERSON_ACCOUNTS_NOT_ENABLED", "action.preset")]
