"""Currency: a multi-currency org (CurrencyIsoCode exists) and a single-currency one, on both backends."""

from __future__ import annotations

import pytest

from adapters.memory.org_options import OrgOptions
from core.model import Action, Event, FieldMapping, Operation, Severity, ValueSource
from core.ports import FieldIn, Lookup
from core.service import ApplyService, ValidateService


def _opportunity(*extra: FieldMapping) -> Action:
    return Action("Opportunity", Operation.CREATE, (), None, (
        FieldMapping("Name", ValueSource.of_path("properties.name")),
        FieldMapping("StageName", ValueSource.of_literal("Prospecting")),
        FieldMapping("CloseDate", ValueSource.of_literal("2026-12-31")),
        FieldMapping("Amount", ValueSource.of_path("properties.amount")), *extra))


def _deal(event_id: str, currency: str | None = None) -> Event:
    return Event(event_id, {"properties": {"name": f"Deal {event_id}", "amount": 1200.5, "currency": currency}})


CURRENCY = FieldMapping("CurrencyIsoCode", ValueSource.of_path("properties.currency"))


class TestMultiCurrencyOrg:
    @pytest.fixture
    def org_options(self) -> OrgOptions:
        return OrgOptions(currencies=("USD", "EUR", "JPY"))

    def test_the_mapped_currency_is_written_and_one_the_org_lacks_is_400(self, backend):
        service, conn = ApplyService(backend.factory), backend.connection_for("acme")
        results = service.apply(conn, _opportunity(CURRENCY), [_deal("a", "EUR"), _deal("b", "GBP")]).results
        assert [r.status for r in results] == [201, 400]
        assert results[1].error.code == "CURRENCY_NOT_ENABLED" and results[1].error.fields == ("CurrencyIsoCode",)
        assert "'GBP'" in results[1].error.message and "USD, EUR, JPY" in results[1].error.message
        [row] = backend.store().find(Lookup("Opportunity", ("Id", "CurrencyIsoCode", "Amount"),
                                            ((FieldIn("Id", (results[0].record_id,)),),)))
        assert (row["CurrencyIsoCode"], row["Amount"]) == ("EUR", 1200.5)

    def test_a_dry_run_refuses_a_currency_the_org_lacks(self, backend):
        service, conn = ApplyService(backend.factory), backend.connection_for("acme")
        plan = service.apply(conn, _opportunity(CURRENCY), [_deal("a", "JPY"), _deal("b", "CHF")], dry_run=True)
        assert [(r.status, r.error.code if r.error else "") for r in plan.results] == [
            (201, ""), (400, "CURRENCY_NOT_ENABLED")]

    def test_an_amount_without_a_currency_warns_and_takes_the_corporate_currency(self, backend):
        conn = backend.connection_for("acme")
        report = ValidateService(backend.factory).validate(_opportunity(), conn)
        warnings = [(d.code, str(d.field_path)) for d in report.diagnostics if d.severity is Severity.WARNING]
        assert ("CURRENCY_NOT_MAPPED", "action.field_mappings[3].field") in warnings and report.valid
        [created] = ApplyService(backend.factory).apply(conn, _opportunity(), [_deal("a")]).results
        [row] = backend.store().find(Lookup("Opportunity", ("Id", "CurrencyIsoCode"),
                                            ((FieldIn("Id", (created.record_id,)),),)))
        assert row["CurrencyIsoCode"] == "USD"

    def test_the_org_refuses_a_currency_it_does_not_enable(self, backend):
        [outcome] = backend.store().create("Account", [{"Name": "Acme", "CurrencyIsoCode": "XXX"}])
        assert outcome.said.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_mapping_the_currency_in_a_single_currency_org_is_a_validate_error(backend):
    conn = backend.connection_for("acme")
    report = ValidateService(backend.factory).validate(_opportunity(CURRENCY), conn)
    assert [(d.code, str(d.field_path)) for d in report.errors] == [("CURRENCY_NOT_ENABLED",
                                                                "action.field_mappings[4].field")]
    assert not [d for d in ValidateService(backend.factory).validate(_opportunity(), conn).diagnostics
                if d.code == "CURRENCY_NOT_MAPPED"]
