"""The API budget governor through `sfdest serve` with the Salesforce backend and the emulator: an org with
an allowance of 15,000 calls and a 20 % reserve (SFDEST_API_BUDGET_RESERVE=0.2)."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb

from server import errors
from tests.builders import UPSERT_LEAD_ON_EMAIL, action, grant_connection, identify_message
from tests.server.serving import CALL_LIMIT, Served, apply, serving_salesforce

LIMIT, CEILING = 15_000, 12_000
BATCH = 1000  # one Composite call an Apply (five collections of 200)
FIRST_APPLIES = 20
UPSERT_SUBSCRIPTION = action(object="Subscription__c", operation="OPERATION_UPSERT",
                             record_matchers=[{"field": "External_Id__c", "value": {"path": "properties.sub_id"}}],
                             field_mappings=[{"field": "Plan__c", "value": {"path": "properties.plan"}}])


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    # 20 Applies of one org at once: the per-org cap is at most three quarters of SFDEST_MAX_WORKERS (16 by
    # default: 12), so the workers are raised too, or Applies past 12 in flight are refused ORG_BUSY
    with serving_salesforce(SFDEST_API_BUDGET_RESERVE="0.2", SFDEST_METRICS_LISTEN="127.0.0.1:0",
                            SFDEST_MAX_APPLIES_PER_ORG=str(FIRST_APPLIES),
                            SFDEST_MAX_WORKERS=str(2 * FIRST_APPLIES)) as s:
        yield s


def events(start: int) -> list[pb.Event]:
    out = []
    for n in range(start, start + BATCH):
        event = pb.Event(id=f"e{n}")
        event.payload.update({"type": "track", "properties": {"sub_id": f"S-{n}", "plan": "gold"}})
        out.append(event)
    return out


def metrics(served: Served) -> dict[str, float]:
    port = next(json.loads(line)["metrics_port"] for line in served.log if '"metrics_port"' in line)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=CALL_LIMIT) as response:  # noqa: S310
        text = response.read().decode()
    return {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("sfdest_api_budget_")}


def test_sfdest_never_spends_past_the_reserve_and_every_refused_event_is_retryable(served, emulator):
    emulator.set_api_usage(used=CEILING - 12, limit=LIMIT)  # room for 12 calls: /limits, describe, some Applies
    conn = grant_connection(emulator, "oauth_refresh_token")
    with ThreadPoolExecutor(4) as pool:  # Applies in flight at once, all for the same org
        responses = list(pool.map(lambda k: apply(served, conn, UPSERT_SUBSCRIPTION, *events(k * BATCH)), range(16)))
    results = [r for response in responses for r in response.results]
    assert len(results) == 16 * BATCH
    written = [r for r in results if r.status in (200, 201)]
    refused = [r for r in results if r.status not in (200, 201)]
    # every event is answered: written, or refused before any call for it with a retry_after to honour
    assert {(r.status, r.outcome, r.retryable, r.error.code) for r in refused} == {
        (429, pb.OUTCOME_RATE_LIMITED, True, "API_BUDGET_EXHAUSTED")}
    assert all(r.retry_after.ToSeconds() >= 60 for r in refused)
    assert written and refused
    used, limit = emulator.api_usage
    assert limit == LIMIT
    print(f"allowance {LIMIT}, reserve 20 %: org used {used} (ceiling {CEILING}); {len(written)} events written, "
          f"{len(refused)} refused 429 retryable")
    # never past 12,000: the one /limits request counts in it (the other Applies waited for its answer)
    assert used <= CEILING
    assert used >= CEILING - 1  # and what was left went to writes (an Apply needs 1)
    # nothing lost: the org holds exactly the records of the written events
    keys = Counter(row["External_Id__c"] for row in emulator.org.records("Subscription__c"))
    assert set(keys.values()) == {1} and len(keys) == len(written)
    refused_ids = {r.event_id for r in refused}
    assert not any(f"e{k.removeprefix('S-')}" in refused_ids for k in keys)
    budget = metrics(served)
    assert budget["sfdest_api_budget_refused"] >= len(refused) // BATCH
    assert budget["sfdest_api_budget_reserved"] == 0
    assert budget["sfdest_api_budget_used"] == emulator.api_calls


def limits_calls(emulator) -> int:
    return sum(r.method == "GET" and r.path.endswith("/limits") for r in emulator.requests)


def test_first_applies_for_a_fresh_org_ask_its_allowance_once(served, emulator):
    emulator.set_api_usage(used=0, limit=LIMIT)
    conn = grant_connection(emulator, "oauth_refresh_token")
    with ThreadPoolExecutor(FIRST_APPLIES) as pool:  # all at once, before anything is known of the org
        responses = list(pool.map(lambda k: apply(served, conn, UPSERT_SUBSCRIPTION, *events(k * BATCH)[:1]),
                                  range(FIRST_APPLIES)))
    assert [r.status for response in responses for r in response.results] == [201] * FIRST_APPLIES
    print(f"{FIRST_APPLIES} first Applies at once for a fresh org: {limits_calls(emulator)} GET /limits, "
          f"{emulator.api_usage[0]} calls in all")
    assert limits_calls(emulator) == 1  # the others waited for its answer
    # a later Apply (a new session) asks nothing: the allowance is known
    apply(served, conn, UPSERT_SUBSCRIPTION, *events(FIRST_APPLIES * BATCH)[:1])
    assert limits_calls(emulator) == 1


def test_validate_reports_the_budget_left(served, emulator):
    emulator.set_api_usage(used=11_000, limit=LIMIT)
    request = pb.ValidateRequest(action=UPSERT_SUBSCRIPTION, connection=grant_connection(emulator, "oauth_refresh_token"))
    response = served.stub.Validate(request, timeout=CALL_LIMIT, wait_for_ready=True)
    [info] = [d for d in response.diagnostics if d.code == "API_BUDGET_LEFT"]
    assert info.severity == pb.SEVERITY_INFO
    left = int(info.message.split(" has ")[1].split(" ")[0])
    assert CEILING - 11_000 - 2 <= left <= CEILING - 11_000  # the describe (and /limits) spent since


def test_an_apply_whose_lookup_and_write_do_not_both_fit_sends_nothing(served, emulator):
    """A lookup is reserved with the write after it: refused together, before the lookup goes out."""
    emulator.set_api_usage(used=CEILING - 5, limit=LIMIT)
    conn = grant_connection(emulator, "oauth_refresh_token")
    warm = apply(served, conn, UPSERT_LEAD_ON_EMAIL, identify_message("w", "warm@example.com", "Warm"))
    assert warm.results[0].status == 201
    used, _ = emulator.api_usage
    assert used == CEILING - 1  # /limits, describe, the lookup and the create: one call left
    before = emulator.api_calls
    refused = apply(served, conn, UPSERT_LEAD_ON_EMAIL, identify_message("r", "ann@example.com", "Ann"))
    [result] = refused.results
    assert (result.status, result.retryable, result.error.code) == (429, True, "API_BUDGET_EXHAUSTED")
    assert emulator.api_calls == before and refused.salesforce_api_calls == 0  # not even the lookup
    assert not [r for r in emulator.org.records("Lead") if r["Email"] == "ann@example.com"]


def erase_ann(served: Served, conn: pb.Connection, hard_delete: bool = False) -> pb.EraseResponse:
    request = pb.EraseRequest(connection=conn, hard_delete=hard_delete, identifiers=[
        pb.PersonIdentifier(object="Lead", field="Email", values=[struct_pb2.Value(string_value="ann@example.com")])])
    return served.stub.Erase(request, timeout=CALL_LIMIT, wait_for_ready=True)


def test_an_erase_whose_lookup_and_delete_do_not_both_fit_is_refused_before_any_call(served, emulator):
    """An Erase reserves its lookup and the delete after it together, as Apply does."""
    emulator.org.seed("Lead", {"LastName": "Ann", "Company": "Acme", "Email": "ann@example.com"})
    emulator.set_api_usage(used=CEILING - 5, limit=LIMIT)
    conn = grant_connection(emulator, "oauth_refresh_token")
    nobody = pb.EraseRequest(connection=conn, identifiers=[  # /limits, describe, lookup: nothing to delete
        pb.PersonIdentifier(object="Lead", field="Email", values=[struct_pb2.Value(string_value="no@example.com")])])
    assert not served.stub.Erase(nobody, timeout=CALL_LIMIT, wait_for_ready=True).records
    assert emulator.api_usage[0] == CEILING - 2  # two calls left: a lookup and a delete fit, not a hardDelete job
    before = emulator.api_calls
    with pytest.raises(grpc.RpcError) as refused:
        erase_ann(served, conn, hard_delete=True)  # the lookup and a job of 7 calls: 8 needed
    status = rpc_status.from_call(refused.value)
    info, _ = errors.details_of(status)
    retry = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and info is not None
    assert (info.reason, info.metadata["code"]) == ("RATE_LIMITED", "API_BUDGET_EXHAUSTED") and len(retry) == 1
    delay = error_details_pb2.RetryInfo()
    retry[0].Unpack(delay)
    assert delay.retry_delay.seconds >= 60
    assert emulator.api_calls == before  # not even the lookup
    assert [r["Email"] for r in emulator.org.records("Lead")] == ["ann@example.com"]
    erased = erase_ann(served, conn)  # to the recycle bin: the lookup and one delete fit
    assert [(r.status, r.in_recycle_bin) for r in erased.records] == [(204, True)]
    assert emulator.api_calls == before + 2 and emulator.api_usage[0] == CEILING
    print(f"Erase needing 8 calls with 2 left: refused RESOURCE_EXHAUSTED/RATE_LIMITED, retry in "
          f"{delay.retry_delay.seconds} s, 0 calls sent; the recycle-bin Erase: 2 calls")
