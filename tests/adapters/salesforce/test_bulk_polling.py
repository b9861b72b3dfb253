"""A Bulk API job that reports progress is polled when it should be done, not every few milliseconds."""

from __future__ import annotations

from collections import Counter

from tests.adapters.salesforce.harness import harness
from tests.builders import SUB, subscription_upsert, track
from tools.emulator.latency import LatencyModel


def test_a_job_taking_three_seconds_costs_a_handful_of_polls(emulator):
    emulator.latency = LatencyModel(base_ms=0, write_record_ms=0, query_record_ms=0, bulk_records_per_second=1000)
    events = [track(f"e{i}", sub_id=f"S-{i}", plan="p") for i in range(3000)]
    with harness(emulator, bulk_threshold=1000) as h:  # polls from 1 ms, backing off to 10 ms without progress
        h.warm(SUB)
        report = h.apply(subscription_upsert(), events)
    assert Counter(r.status for r in report.results) == {201: 3000}
    assert emulator.calls["bulk_create"] == 1
    assert 1 <= emulator.calls["bulk_info"] <= 12  # polling every 10 ms for 3 s would take ~300
