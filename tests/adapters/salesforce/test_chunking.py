"""The chunk size that passes an org's triggers: bisection after a governor-limit failure, slow growth,
and which errors count as a governor limit."""

from __future__ import annotations

import pytest

from adapters.salesforce.chunking import ChunkSize, is_governor_limit, send_sized
from core.model import ResultError
from core.ports import WriteOutcome

LIMIT = ResultError("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "LeadTrigger: execution of BeforeInsert\n\ncaused by: "
                    "System.LimitException: Too many SOQL queries: 101")


@pytest.mark.parametrize(("code", "message", "limited"), [
    ("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "T: execution of AfterUpdate caused by: System.LimitException: "
     "Apex CPU time limit exceeded", True),
    ("UNKNOWN_EXCEPTION", "Apex CPU time limit exceeded", True),
    ("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "T: execution of AfterInsert caused by: System.DmlException: "
     "Insert failed. REQUIRED_FIELD_MISSING", False),
    ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", False),
])
def test_which_errors_are_a_governor_limit(code, message, limited):
    assert is_governor_limit(ResultError(code, message)) is limited


def trigger(k: int, sent: list[int]):
    def send(chunk: list[int]) -> list[WriteOutcome]:
        sent.append(len(chunk))
        if len(chunk) > k:
            return [WriteOutcome(False, error=LIMIT)] * len(chunk)
        return [WriteOutcome(True, id=f"id{p}") for p in chunk]
    return send


def many(send):
    return lambda chunks: [send(c) for c in chunks]


def test_a_failed_chunk_is_bisected_to_the_largest_size_that_passes_and_every_record_is_written_once():
    tuner, sent = ChunkSize(200), []
    outcomes = send_sized(list(range(1000)), many(trigger(37, sent)), tuner, width=10)
    assert [o.id for o in outcomes] == [f"id{p}" for p in range(1000)]
    assert tuner.next() == (37, True)
    assert sum(1 for n in sent if n > 37) <= 10 + 8  # the first wave, then one failed probe per halving


def test_a_record_failing_alone_is_reported_with_salesforces_error():
    tuner, sent = ChunkSize(200), []
    outcomes = send_sized([1, 2, 3], many(trigger(0, sent)), tuner, width=10)
    assert [o.error for o in outcomes] == [LIMIT] * 3
    assert sent.count(1) == 3 and len(sent) <= 3 + 3


def test_the_size_grows_by_an_eighth_after_a_run_of_passing_chunks():
    tuner = ChunkSize(200, grow_after=3)
    tuner.failed(50)
    for _ in range(3):
        tuner.passed(40)
    tuner.passed(45)  # bisection
    assert tuner.next() == (47, False)
    tuner.passed(47)
    tuner.passed(48)
    tuner.passed(49)
    assert tuner.next()[1] is True and tuner.next()[0] == 49
    for _ in range(3):
        tuner.passed(49)
    assert tuner.next() == (55, False)  # 49 + 49 // 8, tried alone
