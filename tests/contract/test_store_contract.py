"""What every RecordStore must do, as real Salesforce does it, seen through the port."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import HealthCheck, given, settings

from core.model import Outcome, ResultError
from core.names import normalize_id
from core.outcomes import classify
from core.ports import FieldIn, Lookup, WriteBatch
from core.salesforce_answers import read
from tests.text_variants import JAVA_TRIM, PAIRS
from tools.emulator import equality

_serial = itertools.count()


def lead(last="Ng", company="Acme", **extra):
    return {"LastName": last, "Company": company, **extra}


def test_describe_reports_realistic_flags(backend):
    d = backend.store().describe("Lead")
    assert d.key_prefix == "00Q"
    assert d.field("Email").filterable and not d.field("Description").filterable
    assert d.field("Id").id_lookup
    assert {f.name for f in d.fields if f.required_on_create} == {"LastName", "Company"}
    sub = backend.store().describe("Subscription__c").field("External_Id__c")
    assert sub.external_id and sub.unique and sub.id_lookup


def test_required_on_create_matches_salesforce(backend):
    store = backend.store()
    required = {name: {f.name for f in store.describe(name).fields if f.required_on_create}
                for name in ("Contact", "Account", "Opportunity", "Case")}
    assert required == {"Contact": {"LastName"}, "Account": {"Name"},
                        "Opportunity": {"Name", "StageName", "CloseDate"}, "Case": set()}


def test_unknown_object_is_not_found(backend):
    from core.ports import BackendError

    try:
        backend.store().describe("Leed")
    except BackendError as exc:
        assert exc.error.code in ("NOT_FOUND", "INVALID_TYPE")
    else:
        raise AssertionError("describe of an unknown object must fail")


def test_created_ids_are_18_characters_with_the_key_prefix_and_checksum(backend):
    results = backend.store().create("Lead", [lead(Email=f"a{i}@x.com") for i in range(3)])
    assert all(r.success and r.id.startswith("00Q") and normalize_id(r.id) == r.id for r in results)
    assert len({r.id for r in results}) == 3


def test_find_matches_strings_case_insensitively_and_returns_selected_fields(backend):
    store = backend.store()
    [a, b, _] = store.create("Lead", [lead(Email="Ann@Example.com"), lead(Email="bob@example.com"),
                                      lead(Email="carl@example.com")])
    found = store.find(Lookup("Lead", ("Id", "Email"), ((FieldIn("Email", ("ann@example.COM", "BOB@example.com")),),)))
    assert sorted(r["Id"] for r in found) == sorted([a.id, b.id])
    assert {r["Email"] for r in found} == {"Ann@Example.com", "bob@example.com"}


def test_find_evaluates_or_of_and_groups(backend):
    store = backend.store()
    [a, b, c] = store.create("Lead", [lead(Email="a@x.com", Phone="1"), lead(Email="a@x.com", Phone="2"),
                                      lead(Email="c@x.com", Phone="1")])
    where = ((FieldIn("Email", ("a@x.com",)), FieldIn("Phone", ("2",))), (FieldIn("Email", ("c@x.com",)),))
    found = store.find(Lookup("Lead", ("Id",), where))
    assert sorted(r["Id"] for r in found) == sorted([b.id, c.id])


def test_one_refused_record_never_fails_its_neighbours(backend):
    results = backend.store().create("Lead", [lead(), {"Company": "NoLastName"}, lead(last="x" * 81), lead()])
    assert [r.success for r in results] == [True, False, False, True]
    assert results[1].said.code == "REQUIRED_FIELD_MISSING" and results[1].said.fields == ("LastName",)
    assert results[2].said.code == "STRING_TOO_LONG"


def test_update_and_delete_report_per_record(backend):
    store = backend.store()
    [a, b] = store.create("Lead", [lead(), lead()])
    assert [r.success for r in store.delete("Lead", [b.id])] == [True]
    updated = store.update("Lead", [(a.id, {"FirstName": "Ann"}), (b.id, {"FirstName": "Gone"})])
    assert updated[0].success and not updated[1].success
    assert read(updated[1], "update", "Lead").error.code in ("ENTITY_IS_DELETED", "NOT_FOUND")
    found = store.find(Lookup("Lead", ("Id", "FirstName"), ((FieldIn("Id", (a.id,)),),)))
    assert found[0]["FirstName"] == "Ann"


def test_a_round_of_several_objects_answers_each_batch_in_order(backend):
    store = backend.store()
    [a] = store.create("Lead", [lead(Email="a@x.com")])
    batches = [WriteBatch("update", [(a.id, {"FirstName": "Ann"})], object_name="Lead"),
               WriteBatch("create", [{"LastName": "Ng"}, {"FirstName": "NoLastName"}], object_name="Contact"),
               WriteBatch("create", [lead(Email="b@x.com")], object_name="Lead"),
               WriteBatch("create", [{"Name": "x"}], object_name="Leed")]
    before = store.api_calls
    answers = store.write_batches(batches)
    assert [[o.success for o in outcomes] for outcomes in answers] == [[True], [True, False], [True], [False]]
    assert answers[0][0].id == a.id and answers[1][0].id.startswith("003") and answers[2][0].id.startswith("00Q")
    assert answers[1][1].said.code == "REQUIRED_FIELD_MISSING"
    assert answers[3][0].said.code in ("NOT_FOUND", "INVALID_TYPE")  # one object's failure fails its records only
    assert store.api_calls - before >= 2  # one call per object at least (Composite carries one object's writes)
    found = store.find(Lookup("Lead", ("Id", "FirstName"), ((FieldIn("Id", (a.id,)),),)))
    assert found[0]["FirstName"] == "Ann"


@pytest.mark.parametrize(("why", "code"), [("stop", "CANCELLED"), ("deadline", "DEADLINE_EXCEEDED")])
def test_a_round_handed_over_after_a_stop_or_past_the_deadline_sends_nothing(backend, why, code):
    connection = backend.connection_for("acme")
    backend.store().describe("Lead")  # the org exists and its describe is cached: only the writes are refused
    store = backend.factory.open(connection, stop=lambda: True) if why == "stop" else \
        backend.factory.open(connection, deadline=time.monotonic() - 1)
    answers = store.write_batches([WriteBatch("create", [lead(Email="s@x.com")] * 3, object_name="Lead"),
                                   WriteBatch("create", [{"LastName": "Ng"}], object_name="Contact")])
    assert [[o.error.code if o.error else "" for o in a] for a in answers] == [[code] * 3, [code]]
    for object_name in ("Lead", "Contact"):
        assert backend.store().find(Lookup(object_name, ("Id",), ((FieldIn("LastName", ("Ng",)),),))) == []


def test_hard_delete_jobs_refused_for_want_of_the_permission_answer_the_refusal(backend):
    store = backend.store()
    [a] = store.create("Lead", [lead()])
    [c] = store.create("Contact", [{"LastName": "Ng"}])
    answers = store.hard_delete_many([("Lead", [a.id]), ("Contact", [c.id])])
    assert [x.code if isinstance(x, ResultError) else x for x in answers] == ["FEATURENOTENABLED"] * 2
    assert [r["Id"] for r in store.find(Lookup("Lead", ("Id",), ((FieldIn("Id", (a.id,)),),)))] == [a.id]


def test_upsert_by_external_id_creates_then_updates(backend):
    store = backend.store()
    first = store.upsert("Subscription__c", "External_Id__c", [{"External_Id__c": "S-1", "Plan__c": "basic"}])
    second = store.upsert("Subscription__c", "External_Id__c", [{"External_Id__c": "s-1", "Plan__c": "pro"}])
    assert first[0].success and first[0].created
    assert second[0].success and not second[0].created and second[0].id == first[0].id


def test_external_id_values_are_unique(backend):
    store = backend.store()
    store.create("Subscription__c", [{"External_Id__c": "S-9"}])
    dup = store.create("Subscription__c", [{"External_Id__c": "s-9"}])
    assert not dup[0].success and dup[0].said.code == "DUPLICATE_VALUE"


def test_tenants_never_see_each_others_records(backend):
    backend.store("acme").create("Lead", [lead(Email="shared@x.com")])
    found = backend.store("globex").find(Lookup("Lead", ("Id",), ((FieldIn("Email", ("shared@x.com",)),),)))
    assert found == []


def test_calls_are_counted_like_salesforce_counts_them(backend):
    store = backend.store()
    store.describe("Lead")
    before = store.api_calls
    store.create("Lead", [lead() for _ in range(450)])
    assert store.api_calls - before == 1  # three collections of at most 200 records, in one Composite call
    before = store.api_calls
    store.create("Lead", [lead() for _ in range(1001)])
    assert store.api_calls - before == 2  # six collections: a Composite call carries five


def test_an_update_or_delete_of_an_id_that_is_no_record_reports_not_found(backend):
    from core.names import to_18

    store = backend.store()
    never = to_18("00QHs0000ZZZZZZ")
    [updated] = store.update("Lead", [(never, {"FirstName": "Ann"})])
    [deleted] = store.delete("Lead", [never])
    # what both orgs answer (INVALID_CROSS_REFERENCE_KEY, no field) core reads as NOT_FOUND
    updated, deleted = read(updated, "update", "Lead"), read(deleted, "delete", "Lead")
    assert (updated.success, updated.error.code, deleted.success, deleted.error.code) == (
        False, "NOT_FOUND", False, "NOT_FOUND")


def test_a_duplicate_external_id_names_the_field(backend):
    store = backend.store()
    store.create("Subscription__c", [{"External_Id__c": "S-8"}])
    [dup] = store.create("Subscription__c", [{"External_Id__c": "s-8"}])
    error = read(dup, "create", "Subscription__c").error
    assert (error.code, error.fields) == ("DUPLICATE_VALUE", ("External_Id__c",))


# SOQL equality as Salesforce documents it (see tools/emulator/equality.py): stored value -> literals that find it,
# literals that do not. The memory org keys with core.coercion.match_key, the emulator with its own equality:
# a disagreement between the two fails one leg of this test.
EQUALITY_CASES = [
    ("Straße", ["STRASSE", "strasse", "straße"], ["Strase", "Strasze"]),
    ("Café", ["CAFÉ", "café"], ["Cafe", "CAFE", "Cafe\u0301"]),
    ("ﬁne", ["FINE", "fine", "ﬁNE"], ["f ine"]),
    ("Σίσυφος", ["ΣΊΣΥΦΟΣ", "σίσυφοσ", "σίσυφος"], ["Σισυφος"]),
    ("Kelvin \u212a", ["KELVIN K", "kelvin k"], ["kelvin"]),
    ("  padded\t", ["padded", "PADDED"], [" padded", "padded\t", "padded "]),
    ("nbsp\u00a0", ["NBSP\u00a0"], ["nbsp", "nbsp "]),
    ("In Ner  Space", ["in ner  space"], ["in ner space", "InNerSpace"]),
    ("İstanbul", ["İSTANBUL"], ["istanbul", "Istanbul"]),
]


def test_find_compares_text_by_salesforce_rules(backend):
    store = backend.store()
    created = store.create("Lead", [lead(company=stored) for stored, _, _ in EQUALITY_CASES])
    assert all(r.success for r in created)
    for (stored, equal, unequal), record in zip(EQUALITY_CASES, created, strict=True):
        for literal in equal:
            found = store.find(Lookup("Lead", ("Id", "Company"), ((FieldIn("Company", (literal,)),),)))
            assert [r["Id"] for r in found] == [record.id], (stored, literal)
        for literal in unequal:
            found = store.find(Lookup("Lead", ("Id",), ((FieldIn("Company", (literal,)),),)))
            assert record.id not in [r["Id"] for r in found], (stored, literal)
    saved = store.find(Lookup("Lead", ("Id", "Company"), ((FieldIn("Id", tuple(r.id for r in created)),),)))
    assert {r["Company"] for r in saved} == {stored.strip(" \t") for stored, _, _ in EQUALITY_CASES}


def test_find_compares_ids_numbers_and_booleans_by_value(backend):
    store = backend.store()
    [one] = store.create("Subscription__c", [{"Seats__c": 12, "Active__c": True, "External_Id__c": "K-1"}])
    other = store.create("Subscription__c", [{"Seats__c": 12.5, "External_Id__c": "K-2"}])[0]
    id15 = one.id[:15]
    for field, literal in [("Id", id15), ("Id", one.id.upper()), ("Id", one.id.lower()), ("Seats__c", 12.0),
                           ("Seats__c", "1.2E1"), ("Active__c", True), ("External_Id__c", "k-1")]:
        found = store.find(Lookup("Subscription__c", ("Id",), ((FieldIn(field, (literal,)),),)))
        assert [r["Id"] for r in found] == [one.id], (field, literal)
    found = store.find(Lookup("Subscription__c", ("Id",), ((FieldIn("Active__c", (False,)),),)))
    assert one.id not in [r["Id"] for r in found] and other.id in [r["Id"] for r in found]


def test_a_datetime_is_found_by_the_value_the_org_returned(backend):
    store = backend.store()
    [made] = store.create("Lead", [lead()])
    [row] = store.find(Lookup("Lead", ("Id", "CreatedDate"), ((FieldIn("Id", (made.id,)),),)))
    assert row["CreatedDate"].endswith(".000+0000")  # datetime fields keep whole seconds
    found = store.find(Lookup("Lead", ("Id",), ((FieldIn("CreatedDate", (row["CreatedDate"],)),),)))
    assert made.id in [r["Id"] for r in found]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(pair=PAIRS)
def test_find_agrees_with_soql_equality_on_generated_text(backend, pair):
    """The emulator's equality (written from Salesforce's documentation) is the reference for both backends."""
    store, (a, b) = backend.store(), pair
    prefix = f"{next(_serial):06d}|"
    [made] = store.create("Lead", [lead(company=prefix + a)])
    [row] = store.find(Lookup("Lead", ("Id", "Company"), ((FieldIn("Id", (made.id,)),),)))
    assert row["Company"] == (prefix + a).strip(JAVA_TRIM)  # text is saved trimmed
    found = store.find(Lookup("Lead", ("Id",), ((FieldIn("Company", (prefix + b,)),),)))
    field = store.describe("Lead").field("Company")
    assert (made.id in [r["Id"] for r in found]) is equality.equal(row["Company"], prefix + b, field)


def test_an_upsert_key_several_records_hold_reads_as_multiple_matches_in_the_one_wording(backend):
    store = backend.store()
    [a, b] = store.create("Lead", [lead(Email="twice@x.com"), lead(Email="twice@x.com")])
    [outcome] = store.upsert("Lead", "Email", [lead(Email="TWICE@x.com")])
    assert not outcome.success and outcome.refusal is not None  # what the org said, as it said it
    several = read(outcome, "upsert", "Lead", "Email")  # what it means, as core reads it
    assert (several.error.code, sorted(several.matched_ids), several.error.fields) == (
        "MULTIPLE_MATCHES", sorted([a.id, b.id]), ("Email",))
    assert several.error.message.startswith("2 Lead records match this event; nothing was written")
    assert classify(several.error)[:2] == (300, Outcome.AMBIGUOUS)
