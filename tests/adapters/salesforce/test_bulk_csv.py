"""Bulk API CSV pieces: cell text, one table for differing field sets, upload splitting, sf__Error parsing."""

from __future__ import annotations

import csv
import io

import pytest

from adapters.salesforce.bulk_csv import DuplicateColumn, build_table, cell, parse_error, parse_results, render


@pytest.mark.parametrize("value,text", [
    (None, "#N/A"), ("", "#N/A"), (True, "true"), (False, "false"), (42, "42"), (1.5, "1.5"), (2.0, "2"),
    (1e20, "100000000000000000000"), (1.5e-7, "0.00000015"), ("a,b", "a,b"), ("2024-06-30", "2024-06-30"),
])
def test_cells_are_written_as_bulk_reads_them(value, text):
    assert cell(value) == text


def test_one_table_holds_differing_field_sets_with_the_key_first_and_once():
    table = build_table([{"Plan__c": "a", "external_id__c": "K1"}, {"External_Id__c": "K2", "Seats__c": 2, "plan__c": None}],
                        key="External_Id__c")
    assert table.header == ["External_Id__c", "Plan__c", "Seats__c"]
    assert table.rows == [("K1", "a", ""), ("K2", "#N/A", "2")]  # absent: empty (unchanged); None: #N/A


def test_a_record_naming_a_field_twice_is_refused():
    with pytest.raises(DuplicateColumn):
        build_table([{"Email": "a@x.com", "email": "b@x.com"}])


def test_uploads_are_split_by_size_each_with_the_header():
    table = build_table([{"LastName": f'N "{i}"\n', "Company": ""} for i in range(50)])
    parts = list(render(table.header, table.rows, max_bytes=200))
    assert len(parts) > 1 and all(p.startswith(b"LastName,Company\n") for p in parts)
    rows = [row for p in parts for row in list(csv.reader(io.StringIO(p.decode(), newline="")))[1:]]
    assert rows == [[f'N "{i}"\n', "#N/A"] for i in range(50)]


@pytest.mark.parametrize("text,code,message,fields", [
    ("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", "REQUIRED_FIELD_MISSING",
     "Required fields are missing: [Name]", ["Name"]),
    ("INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--", "INVALID_CROSS_REFERENCE_KEY",
     "invalid cross reference id", []),
    ("DUPLICATE_EXTERNAL_ID:Ext: more than one record found for external id field: [a0S1, a0S2]:Ext__c --",
     "DUPLICATE_EXTERNAL_ID", "Ext: more than one record found for external id field: [a0S1, a0S2]", ["Ext__c"]),
    ("UNKNOWN_EXCEPTION:something: odd", "UNKNOWN_EXCEPTION", "something: odd", []),
])
def test_sf_error_becomes_a_collection_error(text, code, message, fields):
    assert parse_error(text) == {"statusCode": code, "message": message, "fields": fields}


def test_result_rows_keep_the_uploaded_cells():
    text = '"sf__Id","sf__Created",Email,Title\n"00QHs00000LmNoPMAV","true","a@x.com",""\n'
    [row] = parse_results(text, ["Email", "Title"], "successfulResults")
    assert (row.kind, row.sf_id, row.sf_flag, row.cells) == (
        "successfulResults", "00QHs00000LmNoPMAV", "true", ("a@x.com", ""))


def test_result_cells_are_read_by_column_name_in_any_order():
    text = 'TITLE,email\n"CEO","a@x.com"\n'
    [row] = parse_results(text, ["Email", "Title"], "unprocessedrecords")
    assert (row.sf_id, row.cells) == ("", ("a@x.com", "CEO"))
