"""BulkBatches: an org's DailyBulkApiBatches, read from /limits once, counted down by sfdest's own jobs."""

from __future__ import annotations

from adapters.salesforce.bulk_batches import BulkBatches

ORG = "https://acme.my.salesforce.com"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_unknown_until_limits_are_read_then_counted_down_by_jobs():
    clock = Clock()
    batches = BulkBatches(clock, ttl_seconds=3600)
    assert batches.left(ORG) is None
    batches.observe(ORG, {"DailyBulkApiBatches": {"Max": 15000, "Remaining": 5}})
    batches.charge(ORG, 2)
    assert batches.left(ORG) == 3
    batches.charge(ORG, 4)
    assert batches.left(ORG) == 0  # never below nothing
    assert batches.left("https://other.my.salesforce.com") is None


def test_read_again_after_the_ttl_so_other_integrations_jobs_show():
    clock = Clock()
    batches = BulkBatches(clock, ttl_seconds=60)
    batches.observe(ORG, {"DailyBulkApiBatches": {"Max": 15000, "Remaining": 100}})
    clock.now = 61
    assert batches.left(ORG) is None


def test_a_limits_body_without_the_batch_allowance_teaches_nothing():
    batches = BulkBatches(Clock())
    for body in ({}, {"DailyBulkApiBatches": {"Max": 1}}, {"DailyBulkApiBatches": {"Remaining": True}}, []):
        batches.observe(ORG, body)
    assert batches.left(ORG) is None


def test_the_least_recently_read_orgs_are_forgotten():
    batches = BulkBatches(Clock(), max_orgs=2)
    for n in range(3):
        batches.observe(f"https://o{n}.my.salesforce.com", {"DailyBulkApiBatches": {"Max": 9, "Remaining": n}})
    assert batches.left("https://o0.my.salesforce.com") is None
    assert batches.left("https://o2.my.salesforce.com") == 2
