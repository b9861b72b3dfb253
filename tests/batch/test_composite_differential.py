"""The differential test over HTTP: on random orgs and batches, one Apply through the Salesforce adapter with
Composite (lookups and writes five to a call, merged events) gives what one event at a time gives."""

from __future__ import annotations

import pytest

from tests.batch.helpers import harness
from tests.unit.test_batch_differential import URL, named, observe, org_for, scenario
from tools.emulator import Emulator

FIELDS = ("Email", "Phone", "Title", "LastName", "Company", "External_Id__c", "Plan__c")


@pytest.mark.parametrize("block", range(3))
def test_a_composite_batch_gives_what_one_event_at_a_time_gives(block):
    for seed in range(block * 40, (block + 1) * 40):
        backend, ids = org_for(seed)
        action, events = scenario(seed, ids)
        org = backend.org(URL)
        with Emulator(org=org) as emu, harness(emu, use_composite=True) as h:
            results = h.apply(action, events).results
            assert not any(k.startswith("collection_") for k in emu.calls)
        records = {r["Id"]: tuple(r.get(k) for k in FIELDS if k in r)
                   for obj in ("Lead", "Subscription__c") for r in org.records(obj)}
        assert named(results, records) == observe(seed, "one")[:2], f"seed {seed}"
