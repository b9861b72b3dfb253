"""Field problems: each refused field tied to its mapping, with a hint; a field no mapping sets says so."""

from __future__ import annotations

from core.describe import FieldDescribe, ObjectDescribe, PicklistValue
from core.field_problems import with_field_problems
from core.model import FieldProblem, ResultError
from core.paths import FIELD_MAPPINGS, NOWHERE

_LEAD = ObjectDescribe(name="Lead", key_prefix="00Q", fields=(
    FieldDescribe(name="LastName", type="string", length=80),
    FieldDescribe(name="Rating", type="picklist", restricted_picklist=True, picklist_values=(
        PicklistValue("Hot"), PicklistValue("Cold"), PicklistValue("Old", active=False))),
    FieldDescribe(name="Region__c", type="string", length=20)))


def test_a_required_field_no_mapping_sets_says_so():
    error = ResultError("REQUIRED_FIELD_MISSING", "Required fields are missing: [Region__c]", ("region__c",))
    explained = with_field_problems(error, {"LastName": "L"}, {"LastName": FIELD_MAPPINGS.index(0)}, _LEAD)
    assert explained.field_problems == (FieldProblem("Region__c", NOWHERE, "no mapping sets it"),)


def test_each_named_field_gets_its_mapping_and_hint():
    error = ResultError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "bad value", ("Rating",))
    explained = with_field_problems(error, {"Rating": "Warm"}, {"Rating": FIELD_MAPPINGS.index(3)}, _LEAD)
    assert explained.field_problems == (FieldProblem("Rating", FIELD_MAPPINGS.index(3), "allowed: Hot, Cold"),)
    too_long = ResultError("STRING_TOO_LONG", "too long", ("LastName",))
    [problem] = with_field_problems(too_long, {"LastName": "x" * 95}, {"LastName": FIELD_MAPPINGS.index(2)},
                                    _LEAD).field_problems
    assert (str(problem.path), problem.hint) == ("action.field_mappings[2]", "length 95, limit 80")


def test_an_error_naming_no_field_is_left_as_it_is():
    error = ResultError("UNKNOWN_EXCEPTION", "boom")
    assert with_field_problems(error, {}, {}, _LEAD) is error
