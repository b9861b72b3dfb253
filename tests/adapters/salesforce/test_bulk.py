"""Bulk API 2.0 from the bulk threshold on: the job's life, its CSV, and every row tied back to its event."""

from __future__ import annotations

import csv
import io

from core.model import Action, FieldMapping, Operation, ValueSource
from tests.adapters.salesforce.harness import harness, seed_leads
from tests.builders import SUB, by_id, identify_only, lead, person, subscription_upsert, track


def uploads(emu) -> list[list[list[str]]]:
    """Each uploaded CSV, parsed (header first)."""
    return [list(csv.reader(io.StringIO(r.body.decode(), newline=""))) for r in emu.requests
            if r.method == "PUT" and r.path.endswith("/batches")]


def test_the_threshold_chooses_bulk(emulator):
    with harness(emulator, bulk_threshold=3) as h:
        h.warm("Lead")
        h.apply(lead(Operation.CREATE), [person(f"a{i}", f"a{i}@example.com") for i in range(2)])
        assert emulator.bulk_calls == 0 and emulator.calls["collection_create"] == 1
        report = h.apply(lead(Operation.CREATE), [person(f"b{i}", f"b{i}@example.com") for i in range(3)])
    assert {r.status for r in report.results} == {201}
    assert emulator.calls["bulk_create"] == 1 and emulator.calls["collection_create"] == 1


def test_the_csv_is_rfc_4180_with_the_key_column_once_and_absent_fields_empty(emulator):
    ids = seed_leads(emulator, 3, Phone="555", Title="Old")
    events = [identify_only("e0", lead_id=ids[0], title='Chief "Data", Officer\nEMEA'),
              identify_only("e1", lead_id=ids[1], phone=None, first_name="Zoë"),
              identify_only("e2", lead_id=ids[2], title="")]
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(by_id(Operation.UPDATE), events)
    assert [r.status for r in report.results] == [200] * 3
    [[header, *rows]] = uploads(emulator)
    assert header[0] == "Id" and [h.lower() for h in header].count("id") == 1
    assert sorted(header[1:]) == ["FirstName", "Phone", "Title"]
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert cells[0] == {"Id": ids[0], "Title": 'Chief "Data", Officer\nEMEA', "Phone": "", "FirstName": ""}
    assert cells[1] == {"Id": ids[1], "Title": "", "Phone": "#N/A", "FirstName": "Zoë"}
    assert cells[2]["Title"] == "#N/A"  # "" clears a field over REST, so it does here too
    body = next(r.body for r in emulator.requests if r.path.endswith("/batches")).decode()
    assert '"Chief ""Data"", Officer\nEMEA"' in body and "\r" not in body
    records = [emulator.org.get("Lead", rid) for rid in ids]
    assert [(r["Title"], r["Phone"], r["FirstName"]) for r in records] == [
        ('Chief "Data", Officer\nEMEA', "555", None), ("Old", None, "Zoë"), (None, "555", None)]


def test_every_operation_ties_shuffled_results_back_to_their_events(emulator):
    seed = seed_leads(emulator, 60)
    with harness(emulator, bulk_threshold=1) as h:
        created = h.apply(lead(Operation.CREATE), [person(f"c{i}", f"c{i}@example.com", title=f"T{i}")
                                                   for i in range(60)])
        updated = h.apply(lead(Operation.UPDATE), [person(f"u{i}", f"lead{i}@example.com", title=f"U{i}")
                                                   for i in range(60)])
        upserted = h.apply(subscription_upsert(), [track(f"s{i}", sub_id=f"S-{i}", plan=f"P{i}") for i in range(60)])
        deleted = h.apply(by_id(Operation.DELETE), [identify_only(f"d{i}", lead_id=r.record_id)
                                                    for i, r in enumerate(created.results[:30])])
    assert emulator.calls["bulk_create"] == 4 and emulator.calls["collection_create"] == 0
    for i, r in enumerate(created.results[30:], start=30):
        assert (r.status, emulator.org.get("Lead", r.record_id)["Title"]) == (201, f"T{i}")
    assert [(r.status, r.record_id) for r in updated.results] == [(200, rid) for rid in seed]
    assert [emulator.org.get("Lead", rid)["Title"] for rid in seed] == [f"U{i}" for i in range(60)]
    assert [emulator.org.get(SUB, r.record_id)["Plan__c"] for r in upserted.results] == [f"P{i}" for i in range(60)]
    assert {r.status for r in upserted.results} == {201}
    assert [(r.status, r.record_id) for r in deleted.results] == [(204, r.record_id) for r in created.results[:30]]
    assert len(emulator.org.records("Lead")) == 60 + 30


def test_identical_insert_rows_are_matched_by_multiplicity(emulator):
    """Two identical rows, one refused (the external id is unique): one event gets each outcome."""
    ext = FieldMapping("External_Id__c", ValueSource.of_path("properties.sub_id"))
    action = Action(SUB, Operation.CREATE, (), None, (*subscription_upsert().field_mappings, ext))
    events = [track("a", sub_id="S-1", plan="p"), track("b", sub_id="S-1", plan="p"), track("c", sub_id="S-2")]
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(action, events)
    assert sorted(r.status for r in report.results[:2]) == [201, 409] and report.results[2].status == 201
    assert len(emulator.org.records(SUB)) == 2


def test_failed_rows_carry_salesforce_errors_like_collections(emulator):
    events = [person("ok", "ok@example.com"), person("bad", "not-an-email"),
              person("long", "long@example.com", last_name="x" * 81)]
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(lead(Operation.CREATE), events)
    assert [(r.status, r.error and r.error.code, r.error and r.error.fields) for r in report.results] == [
        (201, None, None), (422, "INVALID_EMAIL_ADDRESS", ("Email",)), (422, "STRING_TOO_LONG", ("LastName",))]
    assert emulator.calls["bulk_results"] == 2  # successful and failed rows


def test_an_aborted_upload_writes_nothing_and_every_row_is_retryable(emulator):
    emulator.fail_next(1, "server_error", call="bulk_upload")
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(5)])
    assert {(r.status, r.retryable) for r in report.results} == {(500, True)}
    assert emulator.org.records("Lead") == []
    assert [job.state for job in emulator.bulk.jobs.values()] == ["Aborted"]


def test_a_job_that_cannot_be_created_fails_every_row_retryably(emulator):
    emulator.fail_next(3, "unavailable", call="bulk_create")
    with harness(emulator, bulk_threshold=1, sleep=lambda s: None) as h:
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(5)])
    assert {(r.status, r.retryable, r.error.code) for r in report.results} == {(503, True, "SERVER_UNAVAILABLE")}
    assert emulator.calls["bulk_create"] == 3 and emulator.org.records("Lead") == []


def test_non_ascii_insert_rows_are_tied_back(emulator):
    names = ["Zoë", "Ångström", "李", "Ng"]
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(lead(Operation.CREATE), [person(n, f"{i}@example.com", last_name=n) for i, n in enumerate(names)])
    assert [emulator.org.get("Lead", r.record_id)["LastName"] for r in report.results] == names


def test_inserts_whose_results_echo_stored_values_tie_every_record_back(emulator):
    """Results echo doubles as Java prints them (12345678 -> 1.2345678E7), booleans as true/false: no row is
    left OUTCOME_UNKNOWN, and identical rows each get one of the created records."""
    fields = ("Plan__c", "Seats__c", "Active__c", "Renewal_Date__c")
    action = Action(SUB, Operation.CREATE, (), None,
                    tuple(FieldMapping(f, ValueSource.of_path(f"properties.{f}")) for f in fields))
    seats = [12345678, 2.5, 0.0001, 10_000_000, 1.5e17, 3, None, 912260031]
    events = [track(f"e{i}", Plan__c=f"P{i % 5}", Seats__c=seats[i % len(seats)], Active__c=i % 3 == 0,
                    Renewal_Date__c=f"2024-0{1 + i % 9}-1{i % 10}" if i % 4 else None) for i in range(40)]
    events += [track("twin-a", Plan__c="Twin", Seats__c=1e8), track("twin-b", Plan__c="Twin", Seats__c=1e8)]
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(action, events)
    assert emulator.calls["bulk_create"] == 1
    assert [r.status for r in report.results] == [201] * len(events)
    assert len({r.record_id for r in report.results}) == len(events)
    for event, result in zip(events, report.results, strict=True):
        stored = emulator.org.get(SUB, result.record_id)
        sent = event.payload["properties"]
        assert (stored["Plan__c"], stored["Seats__c"], stored["Active__c"]) == (
            sent["Plan__c"], sent.get("Seats__c"), bool(sent.get("Active__c")))


def test_an_account_insert_ties_back_currency_echoed_in_e_notation(emulator):
    from tests.adapters.salesforce import recorded_divergences as rec

    action = Action("Account", Operation.CREATE, (), None,
                    tuple(FieldMapping(c, ValueSource.of_path(f"properties.{c}")) for c in rec.GUIDE_COLUMNS))
    events = [track(f"a{n}", **dict(zip(rec.GUIDE_COLUMNS, row, strict=True)))
              for n, row in enumerate(rec.GUIDE_UPLOAD)]
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(action, events)
    assert [r.status for r in report.results] == [201] * len(events)
    assert [emulator.org.get("Account", r.record_id)["Name"] for r in report.results] == [
        row[0] for row in rec.GUIDE_UPLOAD]


def test_a_bulk_update_or_delete_of_an_id_that_is_no_record_is_not_found(emulator):
    """The job's failedResults say INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:-- (no sf__Id)."""
    from core.names import to_18

    [real] = seed_leads(emulator, 1)
    never = to_18("00QHs0000ZZZZZZ")
    events = [identify_only("e0", lead_id=never, title="CEO"), identify_only("e1", lead_id=real, title="CEO")]
    with harness(emulator, bulk_threshold=1) as h:
        updated = h.apply(by_id(Operation.UPDATE), events)
        deleted = h.apply(by_id(Operation.DELETE), events)
    assert emulator.calls["bulk_create"] == 2 and emulator.calls["collection_update"] == 0
    assert all(never in [row[0] for row in upload[1:]] for upload in uploads(emulator))  # sent, not looked up
    assert [(r.status, r.record_id, r.error.code if r.error else "") for r in updated.results] == [
        (404, never, "NOT_FOUND"), (200, real, "")]
    assert [(r.status, r.record_id) for r in deleted.results] == [(404, never), (204, real)]
