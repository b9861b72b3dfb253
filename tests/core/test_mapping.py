"""Value sources, presets and type coercion: how an event becomes a record."""

import pytest

from adapters.memory.catalog import STANDARD_CATALOG
from core.coercion import CoercionError, coerce
from core.model import Action, Event, FieldMapping, Operation, Preset, ValueSource
from core.preparation import prepare
from core.presets import effective_mappings
from core.values import MISSING, path_problem, resolve

EVENT = {"type": "identify", "userId": "u1", "groupId": "g-42",
         "traits": {"email": "t@x.com", "nothing": None, "emails": ["a@x.com", "b@x.com"], "address": {"city": "Oslo"}},
         "properties": {"email": "p@x.com", "phone": "555"}}


@pytest.mark.parametrize("source,expected", [
    (ValueSource.of_path("traits.email"), "t@x.com"),
    (ValueSource.of_path("$.traits.email"), "t@x.com"),
    (ValueSource.of_path("traits.address.city"), "Oslo"),
    (ValueSource.of_path("traits.emails[1]"), "b@x.com"),
    (ValueSource.of_path("traits.emails[5]"), MISSING),
    (ValueSource.of_path("traits.missing", "properties.email"), "p@x.com"),
    (ValueSource.of_path("traits.nothing", "properties.phone"), "555"),
    (ValueSource.of_path("traits.nothing"), None),
    (ValueSource.of_path("traits.missing"), MISSING),
    (ValueSource.of_literal("fixed"), "fixed"),
    (ValueSource.of_literal(None), None),
])
def test_value_sources(source, expected):
    assert resolve(source, EVENT) == expected


@pytest.mark.parametrize("path", ["", "traits..email", "traits.", "$.", "traits[x]", "traits[" + "9" * 5000 + "]"])
def test_malformed_paths_are_named(path):
    assert path_problem(path) is not None


def test_account_preset_maps_account_number_from_the_group_id():
    action = Action("Account", Operation.CREATE, (), None, (), Preset.ACCOUNT)
    event = Event("e", {"type": "group", "groupId": "g-42", "traits": {"name": "Acme", "employees": "120",
                                                                       "address": {"city": "Oslo"}}})
    p = prepare(0, event, action, effective_mappings(action.preset, action.field_mappings), STANDARD_CATALOG["Account"])
    assert p.error is None
    assert p.fields == {"Name": "Acme", "AccountNumber": "g-42", "NumberOfEmployees": 120, "BillingCity": "Oslo"}


def test_explicit_mappings_override_preset_ones_field_by_field():
    explicit = (FieldMapping("email", ValueSource.of_path("properties.email")),)
    chosen = effective_mappings(Preset.LEAD, explicit)
    by_field = {m.field.lower(): (m, str(path)) for m, path in chosen}
    assert by_field["email"] == (explicit[0], "action.field_mappings[0]")
    assert by_field["lastname"][1] == "action.preset(Lead).LastName"
    assert len(chosen) == len(effective_mappings(Preset.LEAD, ()))


def test_absent_values_are_omitted_and_explicit_nulls_clear():
    action = Action("Lead", Operation.UPDATE, (), None, (
        FieldMapping("FirstName", ValueSource.of_path("traits.first_name")),
        FieldMapping("Phone", ValueSource.of_path("traits.nothing"))))
    p = prepare(0, Event("e", EVENT), action, effective_mappings(None, action.field_mappings),
                STANDARD_CATALOG["Lead"])
    assert p.fields == {"Phone": None}


@pytest.mark.parametrize("field,value,expected", [
    ("NumberOfEmployees", "1000000", 1000000),
    ("NumberOfEmployees", 12.0, 12),
    ("AnnualRevenue", "12.5", 12.5),
    ("Email", 42, "42"),
    ("Company", True, "true"),
])
def test_values_are_coerced_by_the_field_type(field, value, expected):
    assert coerce(value, STANDARD_CATALOG["Lead"].field(field)) == expected


def test_dates_accept_iso_datetimes_and_keep_the_date():
    close = STANDARD_CATALOG["Opportunity"].field("CloseDate")
    assert coerce("2022-02-18T22:26:24.997Z", close) == "2022-02-18"


@pytest.mark.parametrize("field,value,rule", [
    ("NumberOfEmployees", "lots", "must be a number"),
    ("NumberOfEmployees", "1.5", "whole number"),
    ("NumberOfEmployees", True, "not a boolean"),
    ("Email", {"a": 1}, "an object"),
    ("Email", [1], "an array"),
    ("Email", float("nan"), "finite"),
    ("Email", "\ud800@x.com", "lone surrogate"),
    ("AnnualRevenue", 1e-50, "18 digits"),
    ("AnnualRevenue", "1e300", "18 digits"),
])
def test_bad_values_name_the_rule(field, value, rule):
    with pytest.raises(CoercionError, match=rule):
        coerce(value, STANDARD_CATALOG["Lead"].field(field))


def test_a_bad_mapping_value_is_a_400_naming_the_mapping_and_field():
    action = Action("Lead", Operation.CREATE, (), None, (FieldMapping("NumberOfEmployees",
                                                                       ValueSource.of_path("traits.email")),))
    p = prepare(3, Event("e", EVENT), action, effective_mappings(None, action.field_mappings), STANDARD_CATALOG["Lead"])
    assert p.error.status == 400 and p.error.error.code == "MAPPING_VALUE_INVALID"
    assert "action.field_mappings[0] (NumberOfEmployees)" in p.error.error.message
    assert p.error.error.fields == ("NumberOfEmployees",)
