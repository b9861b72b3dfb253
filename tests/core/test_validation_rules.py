"""Validation rules, static and from describe metadata, each reported with its field path."""

import pytest

from adapters.memory.catalog import STANDARD_CATALOG
from core.describe import FieldDescribe, ObjectDescribe
from core.model import Action, FieldMapping, MatcherOperator, Operation, RecordMatcher, Severity, ValueSource
from core.validation import validate_against_describe, validate_static

P = ValueSource.of_path


def codes(diagnostics, severity=Severity.ERROR):
    return {(d.code, str(d.field_path)) for d in diagnostics if d.severity is severity}


def lead(op, matchers=(), mappings=(), operator=None, obj="Lead", **kw):
    return Action(obj, op, tuple(RecordMatcher(f, P(p)) for f, p in matchers), operator,
                  tuple(FieldMapping(f, P(p)) for f, p in mappings), **kw)


REQUIRED = (("LastName", "traits.last_name"), ("Company", "traits.company"))

STATIC = [
    (lead(Operation.UPDATE), {("MATCHER_REQUIRED", "action.record_matchers")}),
    (lead(Operation.DELETE, operator=MatcherOperator.AND),
     {("MATCHER_REQUIRED", "action.record_matchers"), ("OPERATOR_WITHOUT_MATCHERS", "action.matcher_operator")}),
    (lead(None), {("OPERATION_REQUIRED", "action.operation")}),
    (lead(Operation.CREATE, obj=""), {("OBJECT_REQUIRED", "action.object")}),
    (lead(Operation.CREATE, obj="Lead; DELETE"), {("INVALID_NAME", "action.object")}),
    (lead(Operation.UPSERT, matchers=(("Email", "traits.email"), ("Email OR 1=1", "traits.x"))),
     {("INVALID_NAME", "action.record_matchers[1].field")}),
    (lead(Operation.CREATE, mappings=(("Email", "traits..email"),)),
     {("INVALID_PATH", "action.field_mappings[0].value")}),
    (lead(Operation.CREATE, mappings=(("Email", "traits.a"), ("email", "traits.b"))),
     {("DUPLICATE_MAPPING", "action.field_mappings[1].field")}),
    (Action("Lead", Operation.UPDATE, (RecordMatcher("Email", ValueSource()),)),
     {("VALUE_SOURCE_REQUIRED", "action.record_matchers[0].value")}),
    (lead(Operation.CREATE, unknown_enum_values=(("action.preset", 42, ("PRESET_LEAD (1)",)),)), {("UNKNOWN_ENUM_VALUE", "action.preset")}),
]


@pytest.mark.parametrize("action,expected", STATIC)
def test_static_rules(action, expected):
    assert codes(validate_static(action)) == expected


def test_a_good_action_has_no_static_errors():
    assert codes(validate_static(lead(Operation.UPSERT, (("Email", "traits.email"),), REQUIRED))) == set()


DESCRIBED = [
    (lead(Operation.UPDATE, (("Description", "traits.d"),)), {("FIELD_NOT_FILTERABLE", "action.record_matchers[0].field")}),
    (lead(Operation.UPDATE, (("Shoe__c", "traits.d"),)), {("UNKNOWN_FIELD", "action.record_matchers[0].field")}),
    (lead(Operation.UPDATE, (("Email", "traits.e"),), (("Nope__c", "traits.x"),)),
     {("UNKNOWN_FIELD", "action.field_mappings[0].field")}),
    (lead(Operation.CREATE, mappings=(("Company", "traits.c"),)),
     {("REQUIRED_FIELD_NOT_MAPPED", "action.field_mappings")}),
    (lead(Operation.UPSERT, (("Email", "traits.e"),), REQUIRED + (("ConvertedDate", "traits.x"),)),
     {("FIELD_NOT_CREATEABLE", "action.field_mappings[2].field"),
      ("FIELD_NOT_UPDATEABLE", "action.field_mappings[2].field")}),
    # Lead.IsConverted may be set when a lead is inserted, never changed afterwards (real describe flags).
    (lead(Operation.UPSERT, (("Email", "traits.e"),), REQUIRED + (("IsConverted", "traits.x"),)),
     {("FIELD_NOT_UPDATEABLE", "action.field_mappings[2].field")}),
    (lead(Operation.UPDATE, (("Id", "traits.id"),), (("FirstName", "traits.f"),)), set()),
]


@pytest.mark.parametrize("action,expected", DESCRIBED)
def test_rules_from_describe_metadata(action, expected):
    assert codes(validate_against_describe(action, STANDARD_CATALOG["Lead"])) == expected


def test_an_upsert_that_matches_on_a_required_field_need_not_map_it_again():
    action = lead(Operation.UPSERT, (("LastName", "traits.last_name"),), (("Company", "traits.company"),))
    assert codes(validate_against_describe(action, STANDARD_CATALOG["Lead"])) == set()


def test_required_fields_come_from_metadata_not_from_a_list():
    custom = ObjectDescribe("Widget__c", "a0W", (FieldDescribe("Id", "id", createable=False, updateable=False),
                                                 FieldDescribe("Serial__c", "string", nillable=False)))
    missing = validate_against_describe(lead(Operation.CREATE, obj="Widget__c"), custom)
    assert codes(missing) == {("REQUIRED_FIELD_NOT_MAPPED", "action.field_mappings")}
    assert "Serial__c" in missing[0].message


def test_an_object_that_forbids_the_operation_is_reported():
    read_only = ObjectDescribe("Log__c", "a0L", (FieldDescribe("Id", "id"),), deletable=False)
    assert codes(validate_against_describe(lead(Operation.DELETE, (("Id", "traits.id"),), obj="Log__c"),
                                           read_only)) == {("OPERATION_NOT_ALLOWED", "action.operation")}


def test_mapping_onto_the_external_id_upsert_key_is_flagged_as_ignored():
    action = lead(Operation.UPSERT, (("External_Id__c", "properties.sub"),),
                  (("Plan__c", "properties.plan"), ("External_Id__c", "properties.other")), obj="Subscription__c")
    found = validate_against_describe(action, STANDARD_CATALOG["Subscription__c"])
    assert codes(found, Severity.WARNING) == {("KEY_MAPPING_IGNORED", "action.field_mappings[1].field")}
    assert codes(found) == set()


def test_parent_key_names_are_api_names():
    from core.model import ParentKey

    action = Action("Contact", Operation.CREATE, (), None, (
        FieldMapping("AccountId", ValueSource.of_path("traits.company_id"), ParentKey("Ext__c,Name", "Acc ount")),
        FieldMapping("ReportsToId", ValueSource.of_path("traits.manager"), ParentKey(""))))
    paths = [str(d.field_path) for d in validate_static(action) if d.code == "INVALID_NAME"]
    assert paths == ["action.field_mappings[0].parent.key_field", "action.field_mappings[0].parent.object",
                     "action.field_mappings[1].parent.key_field"]
