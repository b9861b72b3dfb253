"""Bulk API 2.0 jobs that fail, are aborted, lose an answer or outlive the deadline: each row says what happened."""

from __future__ import annotations

import csv
import dataclasses
import io

from core.model import Operation
from tests.adapters.salesforce.harness import SteppedClock, harness
from tests.builders import lead, person
from tools.emulator import bulk_csv


def _fail_after(processed: int):
    """An emulator job processor that stops after `processed` rows, as a job that ends Failed does."""
    original = bulk_csv.process

    def process(org, job, rng):
        header, rows, _ = bulk_csv._rows(job)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *rows[:processed]])
        outcome = original(org, dataclasses.replace(job, uploads=[out.getvalue()]), rng)
        outcome.unprocessed = rows[processed:]
        outcome.error = "InternalServerError : the job failed while processing"
        return outcome
    return process


def test_a_failed_job_keeps_processed_results_and_unprocessed_rows_are_retryable(emulator, monkeypatch):
    monkeypatch.setattr(bulk_csv, "process", _fail_after(4))
    events = [person(f"e{i}", f"e{i}@example.com") for i in range(10)]
    events[2] = person("bad", "not-an-email")
    with harness(emulator, bulk_threshold=1) as h:
        report = h.apply(lead(Operation.CREATE), events)
    summary = [(r.status, r.retryable, r.error and r.error.code) for r in report.results]
    assert summary == [(201, False, None)] * 2 + [(422, False, "INVALID_EMAIL_ADDRESS"), (201, False, None)] + [
        (500, True, "UNKNOWN_EXCEPTION")] * 6
    assert "ended Failed" in report.results[9].error.message
    assert sorted(r["Email"] for r in emulator.org.records("Lead")) == ["e0@example.com", "e1@example.com",
                                                                       "e3@example.com"]
    assert emulator.calls["bulk_results"] == 3  # successful, failed and unprocessed rows


def test_a_job_still_running_near_the_deadline_is_aborted_and_nothing_is_written(emulator_factory):
    emulator = emulator_factory(bulk_polls_to_complete=10**6)
    clock = SteppedClock()
    with harness(emulator, bulk_threshold=1, clock=clock, sleep=clock.sleep) as h:
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(5)],
                         deadline=clock.now + 2.5)
    assert {(r.status, r.outcome.name, r.retryable) for r in report.results} == {(504, "NOT_ATTEMPTED", True)}
    assert [job.state for job in emulator.bulk.jobs.values()] == ["Aborted"]
    assert emulator.org.records("Lead") == []
    assert emulator.calls["bulk_state"] == 2  # closed, then aborted


def test_a_lost_close_answer_is_recovered_by_polling(emulator):
    emulator.drop_connection_next(1, when="after", call="bulk_state")
    with harness(emulator, bulk_threshold=1, sleep=lambda s: None) as h:
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(5)])
    assert {r.status for r in report.results} == {201}
    assert len(emulator.org.records("Lead")) == 5 and emulator.calls["bulk_create"] == 1


def test_rows_whose_results_cannot_be_read_are_uncertain_not_retried(emulator):
    emulator.fail_next(3, "server_error", call="bulk_results")
    with harness(emulator, bulk_threshold=1, sleep=lambda s: None) as h:
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"e{i}@example.com") for i in range(5)])
    assert {(r.status, r.outcome.name, r.retryable) for r in report.results} == {(502, "UNCERTAIN", False)}
    assert len(emulator.org.records("Lead")) == 5  # they were written: a blind retry would duplicate them
