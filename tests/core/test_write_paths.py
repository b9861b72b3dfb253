"""core.write_paths.choose: the path of one write from its size and the org's remaining allowances."""

from __future__ import annotations

import pytest

from core.write_paths import (
    API_SCARCE,
    BATCHES_EXHAUSTED,
    BATCHES_SCARCE,
    BULK,
    BULK_JOB_CALLS,
    COLLECTIONS,
    COMPOSITE,
    FEWER_CALLS,
    FORCED,
    REST_ONLY,
    SMALL,
    Remaining,
    bulk_batches,
    choose,
    rest_calls,
)

AMPLE = Remaining(api_calls=15_000, bulk_batches=15_000)


def test_twenty_thousand_upserts_with_ample_allowances_go_bulk_for_fewer_calls():
    choice = choose(20_000, AMPLE)
    assert (choice.path, choice.reason, choice.calls, choice.batches) == (BULK, FEWER_CALLS, BULK_JOB_CALLS, 2)
    assert rest_calls(20_000, composite=True) == 20 > choice.calls


def test_without_batches_left_for_the_job_they_go_composite():
    assert choose(20_000, Remaining(15_000, 1)).path == COMPOSITE
    assert choose(20_000, Remaining(15_000, 1)).reason == BATCHES_EXHAUSTED
    assert choose(20_000, Remaining(15_000, 0)).reason == BATCHES_EXHAUSTED
    assert choose(20_000, Remaining(None, 0)).path == COMPOSITE  # unknown API allowance: still no batches


def test_with_the_api_allowance_nearly_spent_and_batches_left_they_go_bulk():
    choice = choose(20_000, Remaining(api_calls=10, bulk_batches=100))
    assert (choice.path, choice.reason) == (BULK, API_SCARCE)


def test_when_bulk_would_take_a_larger_share_of_the_batches_than_rest_of_the_calls_rest_wins():
    # 20 Composite calls of 15,000 left (0.13 %) against 2 batches of 4 left (50 %)
    choice = choose(20_000, Remaining(api_calls=15_000, bulk_batches=4))
    assert (choice.path, choice.reason) == (COMPOSITE, BATCHES_SCARCE)
    # the same job where calls are the scarcer allowance
    assert choose(20_000, Remaining(api_calls=30, bulk_batches=4)).path == BULK


def test_below_ten_thousand_records_rest_always_costs_fewer_calls():
    choice = choose(9_999, AMPLE)
    assert (choice.path, choice.reason, choice.calls) == (COMPOSITE, SMALL, 10)


def test_at_ten_thousand_composite_costs_ten_calls_and_bulk_seven():
    assert choose(10_000, AMPLE).path == BULK
    assert choose(10_000, AMPLE, composite=False).calls == BULK_JOB_CALLS  # 50 collections otherwise


def test_smaller_chunks_for_triggers_make_rest_dearer():
    # chunks of 37 records: 10,000 records take 271 chunks, 55 Composite calls
    assert rest_calls(10_000, composite=True, chunk=37) == 55
    assert choose(5_000, AMPLE, chunk=37, bulk_from=2_000).path == BULK


def test_unknown_allowances_compare_calls_alone():
    assert choose(20_000, Remaining()).path == BULK
    assert choose(5_000, Remaining(), bulk_from=1).reason == FEWER_CALLS  # 5 Composite calls against 7


@pytest.mark.parametrize("mode, path", [(COMPOSITE, COMPOSITE), (COLLECTIONS, COLLECTIONS), (BULK, BULK)])
def test_the_operator_may_force_a_path(mode, path):
    choice = choose(20_000, Remaining(api_calls=10, bulk_batches=0), mode=mode, bulk_from=1)
    assert (choice.path, choice.reason) == (path, FORCED)


def test_forced_bulk_still_starts_at_the_threshold():
    assert choose(3, AMPLE, mode=BULK, bulk_from=1).path == BULK
    assert choose(3, AMPLE, mode=BULK, bulk_from=10).reason == SMALL


def test_a_write_bulk_cannot_carry_goes_rest_whatever_the_mode():
    assert choose(50_000, AMPLE, mode=BULK, rest_only=True).reason == REST_ONLY
    assert choose(50_000, AMPLE, composite=False, rest_only=True).path == COLLECTIONS


def test_batches_are_one_per_ten_thousand_records():
    assert [bulk_batches(n) for n in (0, 1, 10_000, 10_001, 20_000)] == [0, 1, 1, 2, 2]


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="write path"):
        choose(1, AMPLE, mode="soap")
