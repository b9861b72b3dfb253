"""BulkBatches (the in-process BulkBatchCounters): an org's DailyBulkApiBatches, read from /limits once, counted
down by sfdest's own jobs; OrgBatches: one org's allowance as the write routing reads it."""

from __future__ import annotations

from adapters.salesforce.bulk_batches import BulkBatches, OrgBatches, remaining_of

ORG = "https://acme.my.salesforce.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_until_limits_are_read_then_counted_down_by_jobs():
    clock = Clock()
    batches = BulkBatches(clock, ttl_seconds=3600)
    assert batches.left(ORG) is None and batches.claim_reading(ORG, 5)
    OrgBatches(batches, ORG, clock).observe({"DailyBulkApiBatches": {"Max": 15000, "Remaining": 5}})
    assert not batches.claim_reading(ORG, 5)  # known: nothing to ask
    batches.charge(ORG, 2)
    assert batches.left(ORG) == 3
    batches.charge(ORG, 4)
    assert batches.left(ORG) == 0  # never below nothing
    assert batches.left("https://other.my.salesforce.com") is None


def test_read_again_after_the_ttl_so_other_integrations_jobs_show():
    clock = Clock()
    batches = BulkBatches(clock, ttl_seconds=60)
    batches.observe(ORG, 100, clock.now)
    clock.now += 61
    assert batches.left(ORG) is None


def test_an_older_read_never_replaces_a_later_one():
    clock = Clock()
    batches = BulkBatches(clock)
    batches.observe(ORG, 100, clock.now)
    batches.observe(ORG, 500, clock.now - 10)  # an answer of a request sent earlier, arriving late
    assert batches.left(ORG) == 100
    batches.observe(ORG, 90, clock.now + 1)
    assert batches.left(ORG) == 90


def test_a_limits_body_without_the_batch_allowance_teaches_nothing():
    batches = BulkBatches(Clock())
    for body in ({}, {"DailyBulkApiBatches": {"Max": 1}}, {"DailyBulkApiBatches": {"Remaining": True}}, []):
        assert remaining_of(body) is None
        OrgBatches(batches, ORG).observe(body)
    assert batches.left(ORG) is None


def test_the_least_recently_read_orgs_are_forgotten():
    clock = Clock()
    batches = BulkBatches(clock, max_orgs=2)
    for n in range(3):
        batches.observe(f"https://o{n}.my.salesforce.com", n, clock.now)
    assert batches.left("https://o0.my.salesforce.com") is None
    assert batches.left("https://o2.my.salesforce.com") == 2
