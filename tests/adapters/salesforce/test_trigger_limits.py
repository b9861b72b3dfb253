"""Chunks that survive Apex triggers: a chunk failing as a whole on a governor limit is split, only its
failed records are resent, and the size that passes is remembered per org and object."""

from __future__ import annotations

import math
from collections import Counter

from core.model import Operation
from tests.adapters.salesforce.harness import harness
from tests.builders import SUB, lead, person, subscription_upsert, track
from tools.emulator.triggers import TriggerLimit

WRITE_KINDS = ("collection_create", "collection_update", "collection_upsert", "collection_delete")


def writes(emu) -> int:
    return sum(emu.calls[k] for k in WRITE_KINDS)


def test_ten_thousand_upserts_through_a_trigger_that_fails_above_37_records(emulator):
    emulator.trigger_limit = TriggerLimit(37)
    existing = {f"S-{i}" for i in range(0, 10_000, 3)}
    for key in sorted(existing):
        emulator.org.seed(SUB, {"External_Id__c": key, "Plan__c": "old"})
    events = [track(f"e{i}", sub_id=f"S-{i}", plan="new") for i in range(10_000)]
    with harness(emulator) as h:
        h.warm(SUB)
        report = h.apply(subscription_upsert(), events)
    statuses = Counter(r.status for r in report.results)
    assert statuses == {200: len(existing), 201: 10_000 - len(existing)}  # 0 lost
    rows = emulator.org.records(SUB)
    keys = Counter(r["External_Id__c"] for r in rows)
    assert len(rows) == 10_000 and max(keys.values()) == 1  # 0 duplicated
    assert {r["Plan__c"] for r in rows} == {"new"}
    ideal = math.ceil(10_000 / 37)
    assert ideal <= writes(emulator) <= ideal * 1.1, writes(emulator)
    print(f"10,000 upserts, trigger limit 37: {writes(emulator)} write calls (ideal {ideal})")
    # remembered: 37, or a probe 1/8 larger after a long run of passing chunks
    assert h.backend.chunk_sizes.of(emulator.base_url, SUB).next() in ((37, True), (41, False))


def test_creates_split_by_a_trigger_are_never_duplicated(emulator):
    emulator.trigger_limit = TriggerLimit(9, limit="cpu")
    with harness(emulator) as h:
        h.warm("Lead")
        report = h.apply(lead(Operation.CREATE), [person(f"e{i}", f"p{i}@example.com") for i in range(250)])
    assert {r.status for r in report.results} == {201}
    emails = Counter(r["Email"] for r in emulator.org.records("Lead"))
    assert len(emails) == 250 and set(emails.values()) == {1}
    assert len({r.record_id for r in report.results}) == 250


def test_the_learned_size_serves_the_next_apply_without_a_failed_call(emulator):
    emulator.trigger_limit = TriggerLimit(50)
    with harness(emulator) as h:
        h.warm(SUB)
        h.apply(subscription_upsert(), [track(f"a{i}", sub_id=f"A-{i}", plan="p") for i in range(400)])
        emulator.reset_counters()
        report = h.apply(subscription_upsert(), [track(f"b{i}", sub_id=f"B-{i}", plan="p") for i in range(500)])
    assert {r.status for r in report.results} == {201}
    assert writes(emulator) == math.ceil(500 / 50)


def test_a_record_that_fails_alone_on_a_limit_is_reported_not_resent_forever(emulator):
    emulator.trigger_limit = TriggerLimit(1, object_name=SUB)  # every chunk of 2+ fails; single records pass
    with harness(emulator) as h:
        h.warm(SUB)
        report = h.apply(subscription_upsert(), [track(f"e{i}", sub_id=f"S-{i}", plan="p") for i in range(5)])
    assert [r.status for r in report.results] == [201] * 5
    assert writes(emulator) <= 5 + 3  # 5 singles plus the failed chunks of 5, 2 (and at most one more)


def test_through_composite_the_split_chunks_share_calls_five_at_a_time(emulator):
    emulator.trigger_limit = TriggerLimit(37)  # each collection subrequest is its own chunk for the trigger
    events = [track(f"e{i}", sub_id=f"S-{i}", plan="new") for i in range(10_000)]
    with harness(emulator, use_composite=True) as h:
        h.warm(SUB)
        report = h.apply(subscription_upsert(), events)
    assert Counter(r.status for r in report.results) == {201: 10_000}
    keys = Counter(r["External_Id__c"] for r in emulator.org.records(SUB))
    assert len(keys) == 10_000 and max(keys.values()) == 1
    chunks = emulator.usage.subrequests["collection_upsert"]
    ideal = math.ceil(10_000 / 37)
    # the first wave of full chunks (all 50 of them, 10 calls) fails before the size is learnt
    assert chunks <= ideal * 1.1 + 50, chunks
    assert emulator.calls["composite"] <= math.ceil(ideal / 5) * 1.1 + 10 + 10, emulator.calls["composite"]
    print(f"10,000 upserts, trigger limit 37, Composite: {emulator.calls['composite']} calls, {chunks} collections")
