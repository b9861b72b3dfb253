"""A noisy org beside quiet ones on one `sfdest serve` (Salesforce backend, emulators): the noisy org's excess
is refused first, with nothing sent to Salesforce, and the quiet orgs keep succeeding. Counts only: the
deadlines below are what a host would set, never asserted."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_status import rpc_status
from sfdest.v1 import destination_pb2 as pb

from server import errors
from tests.builders import action, grant_connection, identify_message
from tests.e2e.salesforce.test_faults import wait_until
from tests.server.serving import CALL_LIMIT, Served, serving_salesforce

WORKERS = 10  # RPC threads; 2 stay spare, so 8 Applies run at once
NOISY_CALLERS = 24  # 3x the server's Apply capacity, all from one org
NOISY_SECONDS_PER_CALL = 6.0  # the noisy org's Salesforce is slow: its Applies hold their slots
QUIET_ORGS, QUIET_CALLS = 2, 10
QUIET_DEADLINE = 5.0  # what a quiet tenant's host allows one Apply
NOISY_HELD = 6  # Applies of the noisy org running before the quiet ones start
CREATE_LEAD = action(object="Lead", operation="OPERATION_CREATE",
                     field_mappings=[{"field": "LastName", "value": {"path": "traits.last_name"}},
                                     {"field": "Company", "value": {"literal": "Acme"}},
                                     {"field": "Email", "value": {"path": "traits.email"}}])


@pytest.fixture
def served() -> Iterator[Served]:
    # The per-org cap is set as high as the thread count: one org could take every thread if let.
    with serving_salesforce(SFDEST_MAX_WORKERS=str(WORKERS), SFDEST_MAX_APPLIES_PER_ORG=str(WORKERS)) as s:
        yield s


def refusal_of(exc: grpc.RpcError) -> tuple[str, str]:
    info, _ = errors.details_of(rpc_status.from_call(exc)) if rpc_status.from_call(exc) else (None, [])
    return exc.code().name, info.reason if info else ""


def test_a_noisy_orgs_excess_is_refused_first_and_quiet_orgs_keep_succeeding(served, emulator_factory):
    noisy = emulator_factory(latency_ms=NOISY_SECONDS_PER_CALL * 1000)
    # sfdest tells orgs apart by instance host: each quiet org has its own loopback address.
    quiet = [emulator_factory(host=f"127.0.0.{n + 2}") for n in range(QUIET_ORGS)]
    noisy_conn = grant_connection(noisy, "oauth_refresh_token")
    lock, stop = threading.Lock(), threading.Event()
    noisy_outcomes: Counter[tuple[str, str]] = Counter()
    noisy_calls_reported: list[int] = []

    def noisy_caller(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            request = pb.ApplyRequest(connection=noisy_conn, action=CREATE_LEAD,
                                      events=[identify_message(f"n{n}-{i}", f"noisy{n}-{i}@example.com", "Noisy")])
            try:
                response = served.stub.Apply(request, timeout=CALL_LIMIT)
            except grpc.RpcError as exc:
                with lock:
                    noisy_outcomes[refusal_of(exc)] += 1
                stop.wait(0.02)
                continue
            with lock:
                noisy_outcomes["OK", ""] += 1
                noisy_calls_reported.append(response.salesforce_api_calls)

    def quiet_caller(emu) -> list[bool]:
        conn, ok = grant_connection(emu, "oauth_refresh_token"), []
        for i in range(QUIET_CALLS):
            request = pb.ApplyRequest(connection=conn, action=CREATE_LEAD,
                                      events=[identify_message(f"q{i}", f"quiet{i}@example.com", "Quiet")])
            try:
                response = served.stub.Apply(request, timeout=QUIET_DEADLINE)
            except grpc.RpcError:
                ok.append(False)
                continue
            ok.append([r.status for r in response.results] == [201])
        return ok

    with ThreadPoolExecutor(NOISY_CALLERS + QUIET_ORGS) as pool:
        noisy_runs = [pool.submit(noisy_caller, n) for n in range(NOISY_CALLERS)]
        try:
            wait_until(lambda: noisy.api_calls >= NOISY_HELD)  # its slow Applies hold their slots
            quiet_runs = [pool.submit(quiet_caller, emu) for emu in quiet]
            quiet_ok = [ok for run in quiet_runs for ok in run.result()]
        finally:
            stop.set()
        for run in noisy_runs:
            run.result()

    assert sum(quiet_ok) / len(quiet_ok) >= 0.99, f"quiet tenants succeeded {sum(quiet_ok)} of {len(quiet_ok)}"
    refused = {k: v for k, v in noisy_outcomes.items() if k != ("OK", "")}
    assert set(refused) == {("RESOURCE_EXHAUSTED", "ORG_BUSY")}, noisy_outcomes
    # Refused Applies sent nothing: every call the noisy org received is one a served Apply reported.
    assert noisy.api_calls == sum(noisy_calls_reported)
    assert [len(e.org.records("Lead")) for e in quiet] == [QUIET_CALLS] * QUIET_ORGS
