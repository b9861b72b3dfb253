"""SOQL over REST: the lexer's escapes, Salesforce's errors, case-insensitive matching and paging."""

from __future__ import annotations

import re

import pytest

from tests.tools.emulator.helpers import V, error_code, lead, query


@pytest.fixture
def leads(emulator):
    org = emulator.org
    return {
        "ann": org.seed("Lead", lead(LastName="Ann", Email="Ann@Example.com", AnnualRevenue=100,
                                     Description="long text")),
        "quote": org.seed("Lead", lead(LastName="O'Brien", Company="Q")),
        "slash": org.seed("Lead", lead(LastName="back\\slash", Company="S")),
        "newline": org.seed("Lead", lead(LastName="line\nbreak", Company="N")),
        "unicode": org.seed("Lead", lead(LastName="café", Company="U", Email="c@example.com")),
    }


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["Id"] for r in response.json()["records"]]


@pytest.mark.parametrize(("literal", "who"), [
    (r"'O\'Brien'", "quote"),
    (r"'back\\slash'", "slash"),
    (r"'line\nbreak'", "newline"),
    (r"'line\Nbreak'", "newline"),
    (r"'caf\u00e9'", "unicode"),
    ("'café'", "unicode"),
])
def test_string_escapes_decode_like_salesforce(api, leads, literal, who):
    assert ids(query(api, f"SELECT Id FROM Lead WHERE LastName = {literal}")) == [leads[who]]  # noqa: S608


def test_unknown_escape_is_malformed_query_with_pointer(api, leads):
    response = query(api, r"SELECT Id FROM Lead WHERE LastName = 'a\qb'")
    assert response.status_code == 400
    assert error_code(response) == "MALFORMED_QUERY"
    message = response.json()[0]["message"]
    assert "ERROR at Row:1:Column:38" in message and r"Illegal character sequence '\q'" in message


def test_like_only_escapes_are_refused_outside_like(api, leads):
    assert error_code(query(api, r"SELECT Id FROM Lead WHERE LastName = 'a\_b'")) == "MALFORMED_QUERY"
    assert ids(query(api, r"SELECT Id FROM Lead WHERE LastName LIKE 'line\_%'")) == []
    assert ids(query(api, "SELECT Id FROM Lead WHERE LastName LIKE 'o''%'".replace("''", "\\'"))) == [leads["quote"]]


def test_string_comparison_is_case_insensitive(api, leads):
    assert ids(query(api, "SELECT Id FROM Lead WHERE Email = 'ANN@EXAMPLE.COM'")) == [leads["ann"]]
    assert ids(query(api, "SELECT Id FROM Lead WHERE Email IN ('x@y.z', 'ann@example.COM')")) == [leads["ann"]]


def test_records_carry_attributes_and_selected_fields_only(api, leads):
    soql = f"SELECT Email, lastname FROM Lead WHERE Id = '{leads['ann']}'"  # noqa: S608
    record = query(api, soql).json()["records"][0]
    assert record == {"attributes": {"type": "Lead", "url": f"{V}/sobjects/Lead/{leads['ann']}"},
                      "Email": "Ann@Example.com", "LastName": "Ann"}


def test_boolean_null_number_and_not_in(api, leads):
    assert len(ids(query(api, "SELECT Id FROM Lead WHERE IsConverted = FALSE"))) == 5
    assert set(ids(query(api, "SELECT Id FROM Lead WHERE Email = null"))) == {leads["quote"], leads["slash"],
                                                                           leads["newline"]}
    assert ids(query(api, "SELECT Id FROM Lead WHERE AnnualRevenue = 100.00")) == [leads["ann"]]
    assert ids(query(api, "SELECT Id FROM Lead WHERE AnnualRevenue > 99 AND AnnualRevenue < 101")) == [leads["ann"]]
    not_in = ids(query(api, "SELECT Id FROM Lead WHERE Company NOT IN ('Acme', 'Q', 'S', 'N')"))
    assert not_in == [leads["unicode"]]


def test_and_or_need_parentheses_when_mixed(api, leads):
    mixed = query(api, "SELECT Id FROM Lead WHERE Company = 'Q' OR Company = 'S' AND LastName = 'x'")
    assert error_code(mixed) == "MALFORMED_QUERY"
    grouped = query(api, "SELECT Id FROM Lead WHERE (Company = 'Q' OR Company = 'S') AND (NOT LastName = 'x')")
    assert set(ids(grouped)) == {leads["quote"], leads["slash"]}


def test_unknown_object_field_and_non_filterable_field(api, leads):
    unknown_type = query(api, "SELECT Id FROM Leed")
    assert error_code(unknown_type) == "INVALID_TYPE"
    assert "sObject type 'Leed' is not supported." in unknown_type.json()[0]["message"]
    unknown_field = query(api, "SELECT Id, Foo__c FROM Lead")
    assert error_code(unknown_field) == "INVALID_FIELD"
    assert "No such column 'Foo__c' on entity 'Lead'" in unknown_field.json()[0]["message"]
    description = query(api, "SELECT Id FROM Lead WHERE Description = 'x'")
    assert error_code(description) == "INVALID_FIELD"
    assert description.json()[0]["message"].endswith("field 'Description' can not be filtered in a query call")


def test_literal_types_must_fit_the_field(api, leads):
    quoted_number = query(api, "SELECT Id FROM Lead WHERE AnnualRevenue = '100'")
    assert error_code(quoted_number) == "INVALID_FIELD"
    assert "must be of type double and should not be enclosed in quotes" in quoted_number.json()[0]["message"]
    bad_id = query(api, "SELECT Id FROM Lead WHERE Id = 'abc'")
    assert error_code(bad_id) == "INVALID_QUERY_FILTER_OPERATOR"
    assert error_code(query(api, 'SELECT Id FROM Lead WHERE Email = "a@b.c"')) == "MALFORMED_QUERY"


def test_last_queries_expose_condition_count_and_decoded_values(emulator, api, leads):
    hostile = "x' OR Email != 'y"
    escaped = hostile.replace("\\", "\\\\").replace("'", "\\'")
    query(api, f"SELECT Id FROM Lead WHERE Email = '{escaped}' OR Email = 'plain'")  # noqa: S608
    parsed = emulator.last_queries[-1]
    assert parsed.condition_count == 2
    assert parsed.values == [hostile, "plain"]
    assert parsed.object_name == "Lead"


def test_count_limit_and_order_by(api, leads):
    count = query(api, "SELECT COUNT() FROM Lead WHERE Company = 'Acme'").json()
    assert (count["totalSize"], count["records"]) == (1, [])
    ordered = query(api, "SELECT LastName FROM Lead ORDER BY LastName DESC LIMIT 2").json()["records"]
    assert [r["LastName"] for r in ordered] == ["O'Brien", "line\nbreak"]


def test_results_page_by_2000_with_constant_total_size(emulator, api):
    for n in range(4500):
        emulator.org.seed("Lead", lead(LastName=f"L{n}"))
    first = query(api, "SELECT Id FROM Lead").json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (4500, False, 2000)
    assert re.fullmatch(rf"{V}/query/01g\w{{15}}-2000", first["nextRecordsUrl"])
    second = api.get(first["nextRecordsUrl"]).json()
    assert (second["totalSize"], second["done"], len(second["records"])) == (4500, False, 2000)
    assert second["nextRecordsUrl"].endswith("-4000")
    third = api.get(second["nextRecordsUrl"]).json()
    assert (third["totalSize"], third["done"], len(third["records"])) == (4500, True, 500)
    assert "nextRecordsUrl" not in third
    seen = {r["Id"] for page in (first, second, third) for r in page["records"]}
    assert len(seen) == 4500
    assert emulator.calls["query"] == 1 and emulator.calls["query_more"] == 2


def test_batch_size_header_and_bad_locator(emulator, api):
    for n in range(250):
        emulator.org.seed("Lead", lead(LastName=f"L{n}"))
    page = query(api, "SELECT Id FROM Lead", **{"Sforce-Query-Options": "batchSize=200"}).json()
    assert len(page["records"]) == 200 and page["nextRecordsUrl"].endswith("-200")
    assert error_code(api.get(f"{V}/query/01gHs0000000000AAA-200")) == "INVALID_QUERY_LOCATOR"


def test_uri_longer_than_16384_bytes_is_414(api, leads):
    values = ", ".join(f"'{n:010d}@example.com'" for n in range(700))
    response = query(api, f"SELECT Id FROM Lead WHERE Email IN ({values})")  # noqa: S608
    assert response.status_code == 414
