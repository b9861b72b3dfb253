"""The REST adapter's write paths in auto mode: the org's DailyBulkApiBatches read from /limits once, then
counted down by sfdest's own jobs; the path of each Apply in its report."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import fakeredis
import pytest

from adapters.coordination.budget import InProcessBudgetCounters
from adapters.coordination.redis_batches import RedisBulkBatches
from adapters.coordination.redis_budget import RedisBudgetCounters
from adapters.coordination.redis_leases import connect
from adapters.memory.store import MemoryBackend
from adapters.salesforce.bulk_batches import BulkBatches
from core.budget import ApiGovernor
from core.model import ASSIGNMENT_NONE, Connection, Operation
from core.service import ApplyService
from tests.adapters.salesforce.harness import Harness, harness
from tests.builders import SUB, lead, person, subscription_upsert, track
from tests.redis_fixture import _free_port

RECORDS = 2_000  # collections: 10 calls; a Bulk job: about 7, and 1 batch


def _events(start: int) -> list:
    return [track(f"e{n}", sub_id=f"S-{n}", plan="gold") for n in range(start, start + RECORDS)]


def test_batches_are_read_once_and_counted_down_by_the_jobs_sfdest_sends(emulator):
    emulator.set_bulk_batches(used=14_999)  # one batch left
    emulator.set_api_usage(used=100_000 - 10)  # after describe and /limits, 8 calls: collections need 10
    with harness(emulator, bulk_threshold=RECORDS, write_path="auto") as h:
        first = h.apply(subscription_upsert(), _events(0))
        emulator.set_api_usage(used=0)  # a new day: room for any path, but the one batch is spent
        second = h.apply(subscription_upsert(), _events(RECORDS))
    assert (first.write_path, second.write_path) == ("bulk", "collections")
    assert {r.status for r in (*first.results, *second.results)} == {201}
    assert emulator.calls["limits"] == 1 and emulator.calls["bulk_create"] == 1  # sfdest counted its own job
    assert emulator.calls["collection_upsert"] == RECORDS // 200
    assert emulator.bulk_batches == (15_000, 15_000)


def test_below_the_size_bulk_is_weighed_from_nothing_is_read(emulator):
    with harness(emulator, bulk_threshold=RECORDS, write_path="auto") as h:
        report = h.apply(subscription_upsert(), _events(0)[:RECORDS - 1])
    assert report.write_path == "collections" and emulator.calls["limits"] == 0 and emulator.bulk_calls == 0


def test_the_memory_backend_reports_no_path():
    report = ApplyService(MemoryBackend()).apply(Connection("https://acme.my.salesforce.com"),
                                                 subscription_upsert(), _events(0)[:3])
    assert {r.status for r in report.results} == {201} and report.write_path == ""


def test_a_write_with_an_assignment_rule_header_goes_rest_even_when_bulk_is_forced(emulator):
    events = [person(f"e{n}", f"p{n}@example.com") for n in range(3)]
    with harness(emulator, bulk_threshold=1) as h:  # write_path "bulk"
        report = h.apply(replace(lead(Operation.CREATE), assignment_rule=ASSIGNMENT_NONE), events)
    assert {r.status for r in report.results} == {201}
    assert report.write_path == "collections" and emulator.bulk_calls == 0


def test_one_limits_request_tells_both_the_governor_and_the_batches(emulator):
    with harness(emulator, bulk_threshold=RECORDS, write_path="auto") as h:
        h.warm(SUB)  # describe cached (the backend's governor-less /limits read nothing)
        h.backend.budget = ApiGovernor(InProcessBudgetCounters(), share=0.5)  # knows nothing of the org yet
        report = h.apply(subscription_upsert(), _events(0))
    assert report.write_path == "bulk" and {r.status for r in report.results} == {201}
    assert emulator.calls["limits"] == 1 and report.api_calls == 1 + emulator.bulk_calls


FIRST_WRITES = 20


def _first_writes_at_once(h, size: int) -> list:
    """FIRST_WRITES Applies at once, each one write of `size` records (Bulk weighed), on an org nothing is known of."""
    with ThreadPoolExecutor(FIRST_WRITES) as pool:
        return list(pool.map(lambda k: h.apply(subscription_upsert(), _events(k * RECORDS)[:size]),
                             range(FIRST_WRITES)))


@pytest.mark.parametrize("governed", [False, True], ids=["no governor", "governor"])
def test_concurrent_first_writes_read_the_org_limits_once(emulator, governed):
    """The batch allowance is read from /limits by one session, the others wait for its answer: with a governor
    that request is the governor's one /limits request too."""
    size = 50
    with harness(emulator, bulk_threshold=size, write_path="auto") as h:
        h.warm(SUB)  # describe cached: the write's path is the first thing each Apply needs /limits for
        if governed:
            h.backend.budget = ApiGovernor(InProcessBudgetCounters(), share=0.5)  # knows nothing of the org yet
        reports = _first_writes_at_once(h, size)
        assert {r.status for report in reports for r in report.results} == {201}
        assert emulator.calls["limits"] == 1
        assert h.backend.bulk_batches.left(emulator.base_url) is not None
        if governed:
            assert h.backend.budget.knows(emulator.base_url)
        # a later write asks nothing: both allowances are known
        h.apply(subscription_upsert(), _events(FIRST_WRITES * RECORDS)[:size])
    assert emulator.calls["limits"] == 1
    print(f"{FIRST_WRITES} first writes at once ({'with' if governed else 'without'} a governor): "
          f"{emulator.calls['limits']} GET /limits")


SHARED_SIZE, SHARED_CHUNK = 500, 5  # collections of 5: 100 calls a write, against a Bulk job's 7 and 1 batch
# With the org's API allowance almost whole (100,000), a write goes Bulk while the batches left exceed about 1,000
# (1 batch of them a smaller share than 100 calls of what is left), and collections below: 1,003 left lets 4 jobs go.
SHARED_BATCHES_LEFT = 1_003


@pytest.mark.parametrize(("shared", "governed"), [(True, False), (True, True), (False, False)],
                         ids=["shared in Redis", "shared in Redis, with a governor", "each replica alone"])
def test_replicas_read_the_batches_once_and_count_each_others_jobs_when_they_share_them(emulator, shared, governed):
    """Three replicas (backends) of one org: their first writes at once make one GET /limits in all (with a governor
    sharing Redis too: the request its learning lease lets one replica make tells the batches as well), and the jobs
    of replica A count in what replica B weighs (B's next write goes collections where, alone, it went Bulk)."""
    emulator.set_api_usage(used=0, limit=100_000)
    emulator.set_bulk_batches(used=15_000 - SHARED_BATCHES_LEFT, limit=15_000)
    server = fakeredis.FakeServer()

    def replica() -> Harness:
        batches = RedisBulkBatches(fakeredis.FakeRedis(server=server)) if shared else BulkBatches()
        h = Harness(emulator, SHARED_SIZE, write_path="auto", batch_size=SHARED_CHUNK, bulk_batches=batches)
        if governed:  # no share held back: the calls left are the org's, as without a governor
            h.backend.budget = ApiGovernor(RedisBudgetCounters(fakeredis.FakeRedis(server=server), 60.0))
        return h

    a, b, c = replicas = [replica() for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            first = list(pool.map(lambda k: replicas[k].apply(subscription_upsert(),
                                                              _events(k * RECORDS)[:SHARED_SIZE]), range(3)))
        limits_after_first = emulator.calls["limits"]
        later = a.apply(subscription_upsert(), _events(3 * RECORDS)[:SHARED_SIZE])
        seen_by_b = b.backend.bulk_batches.left(emulator.base_url)
        b_write = b.apply(subscription_upsert(), _events(4 * RECORDS)[:SHARED_SIZE])
    finally:
        for h in replicas:
            h.close()
    assert {r.status for report in (*first, later, b_write) for r in report.results} == {201}
    assert [report.write_path for report in (*first, later)] == ["bulk"] * 4
    print(f"\n3 replicas ({'shared in Redis' if shared else 'each alone'}{', governed' if governed else ''}): first "
          f"writes at once made {limits_after_first} GET /limits; after 4 jobs ({SHARED_BATCHES_LEFT} batches left "
          f"before) replica B sees {seen_by_b} and its write goes {b_write.write_path}")
    if shared:
        assert limits_after_first == 1 and seen_by_b == SHARED_BATCHES_LEFT - 4
        assert b_write.write_path == "collections"
    else:
        # B read /limits while the others' first jobs ran (those that closed before its read count) and then counted
        # only its own job: it never sees A's later one, so it thinks 1,000 to 1,002 are left where 999 are
        assert limits_after_first == 3 and SHARED_BATCHES_LEFT - 3 <= seen_by_b <= SHARED_BATCHES_LEFT - 1
        assert b_write.write_path == "bulk"
    assert emulator.calls["limits"] == limits_after_first  # nothing read again


def test_when_redis_does_not_answer_the_batches_count_as_unknown_no_limits_is_asked_and_calls_decide(emulator):
    """As the governor's counters then: nothing known of the batches, the write is weighed on calls alone (a job's
    7 against 100), and no replica asks /limits for a figure it could not share."""
    emulator.set_bulk_batches(used=0, limit=15_000)
    dead = RedisBulkBatches(connect(f"redis://127.0.0.1:{_free_port()}/0", timeout_seconds=0.5))
    with harness(emulator, SHARED_SIZE, write_path="auto", batch_size=SHARED_CHUNK, bulk_batches=dead) as h:
        report = h.apply(subscription_upsert(), _events(0)[:SHARED_SIZE])
    assert {r.status for r in report.results} == {201}
    assert report.write_path == "bulk" and emulator.calls["limits"] == 0
    assert emulator.bulk_batches == (1, 15_000)  # the org charged the job; the dropped charge is counted at the next read


def test_a_bulk_job_the_budget_refuses_takes_no_path_and_no_batch(emulator):
    emulator.set_api_usage(used=99_995, limit=100_000)
    with harness(emulator, bulk_threshold=1) as h:  # write_path "bulk"
        h.backend.budget = ApiGovernor(InProcessBudgetCounters(), share=1.0, reserve=0.0)
        h.warm(SUB)  # the governor learns the allowance: after describe, 3 calls left; a job needs more
        report = h.apply(subscription_upsert(), _events(0)[:50])
    assert {(r.status, r.retryable) for r in report.results} == {(429, True)}, report.results[0].error
    assert report.write_path == "" and emulator.bulk_calls == 0
    assert h.backend.bulk_batches.left(emulator.base_url) in (None, 15_000)  # nothing charged for a job never sent


def test_a_bulk_job_started_is_finished_when_the_budget_runs_out_during_it(emulator):
    # The allowance was unknown when the job's calls were prepaid; its answers then tell the org is at the line.
    # Its polls and results finish the work Salesforce started: refusing them would leave records written with
    # nobody told (502 UNCERTAIN); they pass as calls in flight and are counted.
    emulator.set_api_usage(used=49_990, limit=100_000)
    emulator.bulk.polls_to_complete = 6  # more polls than a job's calls prepaid count on
    with harness(emulator, bulk_threshold=1) as h:  # write_path "bulk"
        h.warm(SUB)
        h.backend.budget = governor = ApiGovernor(InProcessBudgetCounters(), share=1.0, reserve=0.5)
        emulator.set_api_usage(used=49_997, limit=100_000)  # 3 calls below the reserve, the org far from its limit
        report = h.apply(subscription_upsert(), _events(0)[:50])
        assert {r.status for r in report.results} == {201} and report.write_path == "bulk", report.results[0].error
        state = governor.counters.state(emulator.base_url)
        assert state.reserved == 0 and state.own_used == emulator.bulk_calls + 1  # every call counted (+ /limits)
        later = h.apply(subscription_upsert(), _events(100)[:50])  # and past the line, nothing new starts
    assert {(r.status, r.retryable) for r in later.results} == {(429, True)}
