"""Bulk result rows tied back by what their cells mean for each field's type."""

from __future__ import annotations

import pytest

from adapters.salesforce.bulk_csv import ResultRow, build_table
from adapters.salesforce.bulk_match import RowMatcher, meaning
from core.describe import FieldDescribe, ObjectDescribe
from core.names import to_18

DESCRIBE = ObjectDescribe("Thing__c", "a0T", (
    FieldDescribe("Id", "id"), FieldDescribe("Amount__c", "currency"), FieldDescribe("Count__c", "int"),
    FieldDescribe("Flag__c", "boolean"), FieldDescribe("Day__c", "date"), FieldDescribe("At__c", "datetime"),
    FieldDescribe("Name", "string"), FieldDescribe("Owner__c", "reference"), FieldDescribe("Alarm__c", "time")))


@pytest.mark.parametrize("kind,uploaded,echoed", [
    ("double", "912260031", "9.12260031E8"), ("double", "2676", "2676.0"), ("double", "0.0001", "1.0E-4"),
    ("double", "123456789.123456789", "1.2345678912345679E8"), ("integer", "2676", "2676"),
    ("integer", "2676.0", "2676"), ("boolean", "true", "TRUE"), ("boolean", "false", "0"),
    ("date", "2024-01-02", "2024-01-02"), ("date", "2024-01-02", "2024-01-02T00:00:00.000Z"),
    ("datetime", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000Z"),
    ("datetime", "2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05.000+0000"),
    ("datetime", "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.123Z"), ("time", "03:04", "03:04:00.000Z"),
    ("text", "  Acme  ", "Acme"), ("text", "a\r\nb", "a\nb"), ("id", "001Hs00000AbCdE", "001Hs00000AbCdEIAV"),
    ("text", "", ""), ("text", "#N/A", ""), ("double", "#N/A", ""), ("text", "   ", ""),
])
def test_cells_that_mean_the_same_compare_equal(kind, uploaded, echoed):
    assert meaning(kind, uploaded) == meaning(kind, echoed)


@pytest.mark.parametrize("kind,uploaded,echoed", [
    ("double", "912260031", "9.12260032E8"), ("boolean", "true", "false"), ("date", "2024-01-02", "2024-01-03"),
    ("datetime", "2024-01-02T03:04:05Z", "2024-01-02T03:04:06.000Z"), ("text", "Acme", "acme"),
    ("text", "", "x"), ("double", "not a number", "0"),
])
def test_cells_that_differ_do_not(kind, uploaded, echoed):
    assert meaning(kind, uploaded) != meaning(kind, echoed)


def _row(cells, kind="successfulResults", sf_id="a0T000000000001AAA"):
    return ResultRow(kind, sf_id, "true", tuple(cells))


def test_each_result_row_takes_its_own_upload_whatever_the_order():
    table = build_table([{"Amount__c": 912260031, "Flag__c": True, "Name": "A"},
                         {"Amount__c": 2.5, "Flag__c": False, "Name": "B"},
                         {"Amount__c": 1e7, "At__c": "2024-01-02T03:04:05Z", "Name": "C"}])
    matcher = RowMatcher(table, None, DESCRIBE)
    results = [_row(["1.0E7", "", "C", "2024-01-02T03:04:05.000Z"]), _row(["9.12260031E8", "true", "A ", ""]),
               _row(["2.5", "false", "B", ""])]
    assert [n for n, _ in matcher.tie(results)] == [2, 0, 1]


def test_identical_rows_are_interchangeable_and_each_taken_once():
    table = build_table([{"Name": "Twin", "Count__c": 1}, {"Name": "Twin", "Count__c": 1}, {"Name": "Other"}])
    matcher = RowMatcher(table, None, DESCRIBE)
    tied = matcher.tie([_row(["Twin", "1"]), _row(["Twin", "1"]), _row(["Twin", "1"])])
    assert sorted(n for n, _ in tied) == [0, 1]  # a third "Twin" result has no upload left: never a guess


def test_a_value_rounded_to_the_fields_scale_ties_back_when_nothing_else_fits():
    table = build_table([{"Name": "A", "Amount__c": 12.345}, {"Name": "A", "Amount__c": 99.999},
                         {"Name": "a", "Amount__c": None}])
    tied = RowMatcher(table, None, DESCRIBE).tie([_row(["A", "100.0"]), _row(["A", "12.35"]), _row(["A", ""])])
    assert [n for n, _ in tied] == [1, 0, 2]
    assert RowMatcher(table, None, DESCRIBE).tie([_row(["A", "12.4"])]) == []  # no rounding of 12.345 reads 12.4
    huge = build_table([{"Name": "A", "Amount__c": "1" * 30}])
    assert RowMatcher(huge, None, DESCRIBE).tie([_row(["A", "1.5E-20"])]) == []


def test_an_unset_checkbox_ties_to_false_and_letter_case_of_text_is_forgiven_last():
    table = build_table([{"Name": "acme corp", "Count__c": 3}, {"Name": "Other", "Flag__c": True}])
    tied = RowMatcher(table, None, DESCRIBE).tie([_row(["Acme Corp", "3", ""]), _row(["Other", "", "true"])])
    assert sorted(n for n, _ in tied) == [0, 1]


def test_the_key_column_ties_an_update_whose_other_cells_came_back_changed():
    table = build_table([{"Id": "a0T000000000001", "Name": "x"}], key="Id")
    [(n, _)] = RowMatcher(table, 0, DESCRIBE).tie([_row([to_18("a0T000000000001"), "X (changed by a trigger)"])])
    assert n == 0


def test_rows_left_untied_are_tried_again_with_later_results():
    table = build_table([{"Name": "A"}, {"Name": "B"}])
    matcher = RowMatcher(table, None, DESCRIBE)
    assert [n for n, _ in matcher.tie([_row(["A"])])] == [0]
    assert [n for n, _ in matcher.tie([_row(["B"], kind="failedResults")])] == [1]
