"""The write path through `sfdest serve` and the emulator: from the size Bulk is weighed from (10,000 records
by default) a write takes Composite or a Bulk API 2.0 job, whichever spends the smaller share of what the org
has left (API calls, DailyBulkApiBatches), and ApplyResponse.write_path says which. Calls counted at the
emulator.

`make test` runs 2,000 records a write with collections of 20 and Bulk weighed from 1,000 (SFDEST_BULK_FROM,
SFDEST_SALESFORCE_BATCH_SIZE): the same calls as the issue's 20,000 with the defaults, which `make soak` runs
(WRITE_PATHS_RECORDS=20000)."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sfdest.v1 import destination_pb2 as pb

from core.write_paths import bulk_batches
from tests.builders import grant_connection
from tests.e2e.salesforce.test_grpc_budget import UPSERT_SUBSCRIPTION
from tests.server.serving import CALL_LIMIT, Served, serving_salesforce
from tools.emulator.server import Emulator

RECORDS = int(os.environ.get("WRITE_PATHS_RECORDS", "2000"))
ISSUE_SCALE = RECORDS >= 20_000  # the defaults: collections of 200, Bulk weighed from 10,000
BATCH = 200 if ISSUE_SCALE else max(1, RECORDS // 100)
COMPOSITE_CALLS = -(-RECORDS // (5 * BATCH))  # 20: Composite carries five collections a call
BATCHES = bulk_batches(RECORDS)  # one DailyBulkApiBatches per 10,000 records of a job
# A write of RECORDS takes seconds alone, far longer on a loaded machine (the emulator runs a job's rows at its
# first poll): the Apply and each Salesforce request get minutes.
APPLY_LIMIT = 600.0
SLOW_ORG = {"SFDEST_SALESFORCE_TIMEOUT_SECONDS": "300", "SFDEST_MAX_EVENTS": str(RECORDS), "SFDEST_MAX_MESSAGE_MB": "64",
            **({} if ISSUE_SCALE else {"SFDEST_SALESFORCE_BATCH_SIZE": str(BATCH),
                                       "SFDEST_BULK_FROM": str(RECORDS // 2)})}


@pytest.fixture
def served() -> Iterator[Served]:
    """A server of its own per test: what it learnt of an org's batches (by instance URL) stays with it."""
    with serving_salesforce(**SLOW_ORG, SFDEST_METRICS_LISTEN="127.0.0.1:0") as s:
        yield s


def path_metrics(served: Served) -> dict[str, float]:
    """sfdest_write_paths_total by its labels, as /metrics prints them."""
    port = next(json.loads(line)["metrics_port"] for line in served.log if '"metrics_port"' in line)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=CALL_LIMIT) as response:  # noqa: S310
        text = response.read().decode()
    return {line.split(" ")[0].removeprefix("sfdest_write_paths_total"): float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("sfdest_write_paths_total{")}


def events() -> list[pb.Event]:
    out = []
    for n in range(RECORDS):
        event = pb.Event(id=f"e{n}")
        event.payload.update({"type": "track", "properties": {"sub_id": f"S-{n}", "plan": "gold"}})
        out.append(event)
    return out


def upsert_all(served: Served, emulator: Emulator) -> pb.ApplyResponse:
    request = pb.ApplyRequest(action=UPSERT_SUBSCRIPTION, events=events(),
                              connection=grant_connection(emulator, "oauth_refresh_token"))
    response = served.stub.Apply(request, timeout=APPLY_LIMIT, wait_for_ready=True)
    assert [r.status for r in response.results] == [201] * RECORDS
    assert len(emulator.org.records("Subscription__c")) == RECORDS
    assert response.salesforce_api_calls == emulator.api_calls  # every data call counted, in the response too
    return response


def writes(emulator: Emulator) -> int:
    """Calls that were not describe or /limits (read apart)."""
    return emulator.api_calls - emulator.calls["describe"] - emulator.calls["limits"]


def test_with_ample_allowances_the_upserts_go_bulk_in_fewer_calls(served, emulator):
    response = upsert_all(served, emulator)
    assert response.write_path == "bulk"
    assert emulator.calls["composite"] == 0 and emulator.calls["limits"] == 1  # /limits read once
    assert writes(emulator) == emulator.bulk_calls < COMPOSITE_CALLS
    assert emulator.bulk_batches == (BATCHES, 15_000)  # one batch per 10,000 records
    assert path_metrics(served) == {'{path="bulk",reason="fewer_calls"}': 1.0}
    print(f"{RECORDS} upserts, ample allowances: {response.write_path}, {writes(emulator)} write calls "
          f"(Composite would take {COMPOSITE_CALLS}), {BATCHES} batches")


def test_with_daily_bulk_batches_spent_they_go_composite(served, emulator):
    emulator.set_bulk_batches(used=15_000)
    response = upsert_all(served, emulator)
    assert response.write_path == "composite"
    assert emulator.bulk_calls == 0 and emulator.bulk_batches == (15_000, 15_000)
    assert writes(emulator) == emulator.calls["composite"] == COMPOSITE_CALLS
    assert path_metrics(served) == {'{path="composite",reason="batches_exhausted"}': 1.0}
    print(f"{RECORDS} upserts, DailyBulkApiBatches spent: {response.write_path}, {writes(emulator)} write calls")


def test_with_the_api_allowance_nearly_spent_and_batches_left_they_go_bulk(served, emulator):
    emulator.set_api_usage(used=15_000 - 15, limit=15_000)  # 15 calls left: Composite needs 20, a job about 7
    assert COMPOSITE_CALLS == 20
    response = upsert_all(served, emulator)
    assert response.write_path == "bulk"
    assert emulator.calls["composite"] == 0 and writes(emulator) == emulator.bulk_calls
    used, limit = emulator.api_usage
    assert used <= limit and emulator.bulk_batches[0] == BATCHES
    assert path_metrics(served) == {'{path="bulk",reason="api_scarce"}': 1.0}
    print(f"{RECORDS} upserts, 15 API calls left: {response.write_path}, {emulator.api_calls} calls in all, "
          f"{limit - used} left")


def test_the_operator_may_force_composite(emulator):
    with serving_salesforce(**SLOW_ORG, SFDEST_WRITE_PATH="composite") as served:
        response = upsert_all(served, emulator)
    assert response.write_path == "composite" and emulator.calls["limits"] == 0  # nothing to weigh
    assert writes(emulator) == emulator.calls["composite"] == COMPOSITE_CALLS


FIRST_APPLIES = 20


@pytest.mark.parametrize("reserve", ["0", "0.2"], ids=["no governor", "governor"])
def test_concurrent_first_applies_weighing_bulk_read_the_org_limits_once(emulator, reserve):
    """Each Apply weighs Bulk (SFDEST_BULK_FROM=10) on an org nothing is known of: one GET /limits tells the
    batches (and a governor's allowance); the others wait for its answer."""
    with serving_salesforce(SFDEST_BULK_FROM="10", SFDEST_API_BUDGET_RESERVE=reserve,
                            SFDEST_MAX_APPLIES_PER_ORG=str(FIRST_APPLIES),
                            SFDEST_MAX_WORKERS=str(2 * FIRST_APPLIES)) as served:
        conn = grant_connection(emulator, "oauth_refresh_token")

        def apply(k: int) -> pb.ApplyResponse:
            request = pb.ApplyRequest(action=UPSERT_SUBSCRIPTION, events=events()[k * 10:(k + 1) * 10], connection=conn)
            return served.stub.Apply(request, timeout=CALL_LIMIT, wait_for_ready=True)

        with ThreadPoolExecutor(FIRST_APPLIES) as pool:
            responses = list(pool.map(apply, range(FIRST_APPLIES)))
        assert {r.status for response in responses for r in response.results} == {201}
        assert {response.write_path for response in responses} == {"composite"}  # 1 call against a job's 7
        assert emulator.calls["limits"] == 1
        apply(FIRST_APPLIES)  # a later Apply asks nothing: both allowances are known
    assert emulator.calls["limits"] == 1
    print(f"{FIRST_APPLIES} first Applies at once, each weighing Bulk, SFDEST_API_BUDGET_RESERVE={reserve}: "
          f"{emulator.calls['limits']} GET /limits")
