"""SOQL escaping, typed literals, strict names, and lookups split to fit the URL budget."""

from __future__ import annotations

import itertools

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.salesforce import soql
from core.ports import BackendError, FieldIn, Lookup
from tests.adapters.salesforce import fakes
from tests.adapters.salesforce.soql_reference import SoqlSyntaxError, decode_literal, parse_lookup

PREFIX = "https://acme.my.salesforce.com/services/data/v62.0/query?q="


@pytest.mark.parametrize(("value", "literal"), [
    ("Acme", "'Acme'"),
    ("Krusty's Krab", "'Krusty\\'s Krab'"),
    ("back\\slash", "'back\\\\slash'"),
    ("ends with \\", "'ends with \\\\'"),
    ("\\'", "'\\\\\\''"),
    ("' OR Id != null OR Name = '", "'\\' OR Id != null OR Name = \\''"),
    ('say "hi"', "'say \\\"hi\\\"'"),
    ("line\nbreak", "'line\\nbreak'"),
    ("cr\rlf\n", "'cr\\rlf\\n'"),
    ("tab\there", "'tab\\there'"),
    ("back\bspace", "'back\\bspace'"),
    ("form\ffeed", "'form\\ffeed'"),
    ("nul\x00byte", "'nul\\u0000byte'"),
    ("bell\x07", "'bell\\u0007'"),
    ("esc\x1b[0m", "'esc\\u001b[0m'"),
    ("del\x7f", "'del\\u007f'"),
    ("c1\x85next", "'c1\\u0085next'"),
    ("100% _match_", "'100% _match_'"),
    ("Zoë 日本 😀", "'Zoë 日本 😀'"),
    ("\u2028sep", "'\u2028sep'"),
    ("", "''"),
])
def test_string_literals_are_escaped_backslash_first(value, literal):
    assert soql.quote(value) == literal
    assert decode_literal(literal) == value


@settings(max_examples=2000, deadline=None)  # no wall-clock limit: the machine may be loaded
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200))
def test_escaped_literal_round_trips_through_a_reference_decoder(text):
    literal = soql.quote(text)
    assert decode_literal(literal) == text
    # Nothing outside the literal: a quote or backslash in the value can never end or break it.
    assert literal.startswith("'") and literal.endswith("'")


@pytest.mark.parametrize("bad", ["lone \ud800 high", "\udfff", "a\udc80b"])
def test_lone_surrogates_are_refused(bad):
    with pytest.raises(BackendError) as caught:
        soql.quote(bad, "Email")
    assert caught.value.error.code == "MATCHER_VALUE_INVALID"
    assert caught.value.error.fields == ("Email",)


def test_string_literals_are_capped_at_4000_characters():
    assert decode_literal(soql.quote("x" * 4000)) == "x" * 4000
    with pytest.raises(BackendError) as caught:
        soql.quote("x" * 4001, "Email")
    assert "4000" in caught.value.error.message


def test_reference_decoder_refuses_unknown_escapes():
    with pytest.raises(SoqlSyntaxError):
        decode_literal("'\\q'")
    with pytest.raises(SoqlSyntaxError):
        decode_literal("'a'b'")


@pytest.mark.parametrize(("value", "field_type", "rendered"), [
    ("Acme", "string", "'Acme'"),
    (42, "string", "'42'"),
    (True, "string", "'true'"),
    ("a@x.com", "email", "'a@x.com'"),
    ("Open", "picklist", "'Open'"),
    (42, "int", "42"),
    ("42", "int", "42"),
    (-1.5, "double", "-1.5"),
    (1e-07, "double", "0.0000001"),
    (1e20, "currency", "100000000000000000000"),
    ("12.50", "currency", "12.50"),
    (33, "percent", "33"),
    (True, "boolean", "true"),
    (False, "boolean", "false"),
    ("TRUE", "boolean", "true"),
    ("2024-06-30", "date", "2024-06-30"),
    ("2024-06-30T23:30:00-02:00", "date", "2024-06-30"),
    ("2024-05-20T20:49:32.000+0000", "datetime", "2024-05-20T20:49:32Z"),
    ("2024-05-20T20:49:32.999Z", "datetime", "2024-05-20T20:49:32Z"),
    ("2024-05-20T22:49:32+02:00", "datetime", "2024-05-20T20:49:32Z"),
    ("2024-05-20T20:49:32", "datetime", "2024-05-20T20:49:32Z"),
    ("00QHs00000LmNoP", "id", "'00QHs00000LmNoPMAV'"),
    ("00QHs00000LmNoPMAV", "reference", "'00QHs00000LmNoPMAV'"),
    (None, "string", "null"),
    (None, "int", "null"),
    ("x'y", None, "'x\\'y'"),
    (7, None, "7"),
    (False, None, "false"),
])
def test_values_render_by_the_fields_describe_type(value, field_type, rendered):
    assert soql.literal(value, field_type, "F") == rendered


@pytest.mark.parametrize(("value", "field_type"), [
    (float("nan"), "double"), (float("inf"), "int"), ("1e999999", "double"), ("NaN", "currency"),
    ("12 OR Id != null", "int"), (True, "int"), ("yes", "boolean"), ("2024-13-45", "date"),
    ("not a date", "datetime"), ("00Q' OR Name != '", "id"), ("001", "reference"), ({"a": 1}, "string"),
    ([1, 2], None), (float("nan"), None), (object(), None),
])
def test_values_that_cannot_be_literals_of_the_type_are_refused(value, field_type):
    with pytest.raises(BackendError) as caught:
        soql.literal(value, field_type, "F")
    assert caught.value.error.code == "MATCHER_VALUE_INVALID"


@pytest.mark.parametrize("name", [
    "Email\n", "Émail", "Email; DELETE", "Email OR Id", "Email__c__x", "_Email", "Email_", "Ema__il__c__c",
    "Email)", "Owner.Name", "", "E" * 81, "Id,Name",
])
def test_names_outside_the_strict_pattern_are_refused(name):
    with pytest.raises(BackendError) as caught:
        soql.check_name(name)
    assert caught.value.error.code == "INVALID_FIELD"


def test_lookup_renders_a_disjunction_of_in_lists():
    lookup = Lookup("Lead", ("Id", "Email", "Phone"), (
        (FieldIn("Email", ("a@x.com", "b'@x.com")),),
        (FieldIn("Phone", ("1",)),),
    ))
    queries = soql.lookup_queries(lookup, None, PREFIX, field_type=lambda name: "string")
    assert queries == ["SELECT Id, Email, Phone FROM Lead WHERE (Email IN ('a@x.com','b\\'@x.com')) OR (Phone = '1')"]


def test_lookup_selects_id_first_once_and_keeps_and_groups():
    lookup = Lookup("Lead", ("Email", "id"), ((FieldIn("Email", ("a",)), FieldIn("NumberOfEmployees", (3, 4))),))
    types = {"Email": "email", "NumberOfEmployees": "int"}
    [query] = soql.lookup_queries(lookup, None, PREFIX, field_type=types.get)
    assert query == "SELECT Id, Email FROM Lead WHERE (Email = 'a' AND NumberOfEmployees IN (3,4))"


def test_null_becomes_its_own_equality_branch():
    lookup = Lookup("Lead", ("Id",), ((FieldIn("Email", ("a", None)),),))
    [query] = soql.lookup_queries(lookup, None, PREFIX, field_type=lambda n: "string")
    assert query == "SELECT Id FROM Lead WHERE (Email = 'a') OR (Email = null)"


def test_a_lookup_with_no_possible_match_needs_no_query():
    assert soql.lookup_queries(Lookup("Lead", ("Id",), ()), None, PREFIX) == []
    assert soql.lookup_queries(Lookup("Lead", ("Id",), ((FieldIn("Email", ()),),)), None, PREFIX) == []


def test_names_in_a_lookup_are_checked_before_rendering():
    for lookup in (Lookup("Lead x", ("Id",), ((FieldIn("Email", ("a",)),),)),
                   Lookup("Lead", ("Id", "Email--"), ((FieldIn("Email", ("a",)),),)),
                   Lookup("Lead", ("Id",), ((FieldIn("Email) OR (Id", ("a",)),),))):
        with pytest.raises(BackendError):
            soql.lookup_queries(lookup, None, PREFIX)


def _covered(queries: list[str]) -> list[tuple[tuple[str, object], ...]]:
    """Every (field, value) combination the queries' disjuncts match, one entry per occurrence."""
    out = []
    for q in queries:
        _, _, disjuncts = parse_lookup(q)
        for terms in disjuncts:
            names = sorted(terms)
            for combo in itertools.product(*(terms[n] for n in names)):
                out.append(tuple(zip(names, combo, strict=True)))
    return out


_values = st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
                   min_size=1, max_size=40, unique=True)


@settings(max_examples=150, deadline=None)
@given(emails=_values, phones=_values, group=st.sampled_from(["a", "b'\\"]), budget=st.integers(700, 2000))
def test_split_queries_fit_the_budget_and_cover_every_value_exactly_once(emails, phones, group, budget):
    lookup = Lookup("Lead", ("Id", "Email", "Phone", "Company"), (
        (FieldIn("Email", tuple(emails)),),
        (FieldIn("Company", (group,)), FieldIn("Phone", tuple(phones))),
    ))
    queries = soql.lookup_queries(lookup, None, PREFIX, budget, field_type=lambda n: "string")
    for q in queries:
        assert len(soql.query_url(PREFIX, q).encode()) <= budget
    expected = [(("Email", e),) for e in emails] + [(("Company", group), ("Phone", p)) for p in phones]
    assert sorted(_covered(queries)) == sorted(expected)


def test_a_single_value_too_long_for_any_query_is_refused():
    lookup = Lookup("Lead", ("Id",), ((FieldIn("Email", ("é" * 400,)),),))
    with pytest.raises(BackendError) as caught:
        soql.lookup_queries(lookup, None, PREFIX, 1000)
    assert caught.value.error.code == "MATCHER_VALUE_INVALID"


def test_the_urls_actually_sent_stay_within_the_budget_and_cover_every_value():
    org = fakes.FakeSalesforce()
    org.on("GET", f"{fakes.DATA}/query", fakes.respond(200, fakes.query_page([], 0)))
    store = fakes.backend(org, max_url_bytes=700).open(fakes.connection(access="00DHs0000012345!AQseed"))
    org.valid_tokens.add("00DHs0000012345!AQseed")
    emails = [f"person{i}+tag'\\\"@example.com" for i in range(120)]
    assert store.find(Lookup("Lead", ("Id", "Email"), ((FieldIn("Email", tuple(emails)),),))) == []
    sent = org.requests_to("GET", f"{fakes.DATA}/query")
    assert len(sent) > 5
    assert all(len(str(r.url).encode()) <= 700 for r in sent)
    assert sorted(_covered([fakes.soql_of(r) for r in sent])) == sorted((("Email", e),) for e in emails)


def test_bad_field_names_are_refused_before_any_request():
    org = fakes.FakeSalesforce()
    store = fakes.backend(org).open(fakes.connection())
    for lookup in (Lookup("Lead", ("Id",), ((FieldIn("Email' OR Name != '", ("a",)),),)),
                   Lookup("Lead", ("Id", "Name FROM User WHERE Id != null"), ((FieldIn("Email", ("a",)),),)),
                   Lookup("Lead\nUser", ("Id",), ((FieldIn("Email", ("a",)),),))):
        with pytest.raises(BackendError):
            store.find(lookup)
    with pytest.raises(BackendError):
        store.describe("Lead/../User")
    with pytest.raises(BackendError):
        store.create("Lead?x=1", [{"LastName": "Ng"}])
    with pytest.raises(BackendError):
        store.upsert("Lead", "Ext__c/../Id", [{"Ext__c": "1"}])
    assert org.requests == []


def test_query_values_reach_salesforce_escaped_and_typed():
    org = fakes.FakeSalesforce()
    org.on("GET", f"{fakes.DATA}/query", fakes.respond(200, fakes.query_page([], 0)))
    store = fakes.backend(org).open(fakes.connection())
    where = ((FieldIn("Email", ("o'neil\\@x.com",)),), (FieldIn("NumberOfEmployees", (12,)),),
             (FieldIn("IsConverted", (False,)),), (FieldIn("CreatedDate", ("2024-05-20T20:49:32.000Z",)),))
    store.find(Lookup("Lead", ("Id",), where))
    [request] = org.requests_to("GET", f"{fakes.DATA}/query")
    assert fakes.soql_of(request) == (
        "SELECT Id FROM Lead WHERE (Email = 'o\\'neil\\\\@x.com') OR (NumberOfEmployees = 12) OR "
        "(IsConverted = false) OR (CreatedDate = 2024-05-20T20:49:32Z)")
    assert isinstance(request.url, httpx.URL)
