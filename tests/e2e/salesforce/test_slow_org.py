"""A slow or hung org: every Apply answers before its deadline with a retryable 504 for what it could not do,
one org gets one connection cap whatever the credentials, and nothing sfdest gave up on stays open at the org."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message
from tests.e2e.salesforce.upsert_rounds import serving
from tests.server.serving import CALL_LIMIT, Served
from tools.emulator.server import CLIENT_ID, USERNAME, Emulator

APPLIES, CREDENTIALS, DEADLINE = 30, 3, 3.0
IN_FLIGHT_PER_ORG = 10  # the Salesforce backend's default cap of requests in flight to one org
SETTLE_LIMIT = 10.0  # the longest the test waits for the emulator to see connections close; never asserted


@pytest.fixture
def served() -> Iterator[Served]:
    # 30 Applies that all run out of time at once answer together: on a loaded machine that takes more than
    # the default 0.25 s margin, so the server keeps back 1 s (plus 10 %) of each 3 s deadline to answer in.
    with serving(APPLIES, SFDEST_DEADLINE_MARGIN_SECONDS="1") as s:
        yield s


def _connections(served: Served, emu: Emulator) -> list[pb.Connection]:
    """Connections to the one org, each with its own refresh token (three integrations of one tenant), warmed:
    tokens and the describe are cached, so what follows only queries and writes."""
    conns = []
    for _ in range(CREDENTIALS):
        conn = grant_connection(emu, "oauth_refresh_token")
        conn.oauth_refresh_token.refresh_token = token = f"refresh-{uuid.uuid4().hex}"
        emu.add_refresh_token(token, CLIENT_ID, USERNAME)
        served.stub.Apply(pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
            identify_message("warm", "warm@example.com", "Warm")]), timeout=CALL_LIMIT)
        conns.append(conn)
    emu.reset_counters()
    return conns


def _apply_all(served: Served, conns: list[pb.Connection], deadline: float = DEADLINE) -> Counter[str]:
    """APPLIES concurrent Applies, each of 5 new Emails; the gRPC codes, and the statuses of those answered."""
    calls = [served.stub.Apply.future(pb.ApplyRequest(
        action=UPSERT_LEAD_ON_EMAIL, connection=conns[n % len(conns)],
        events=[identify_message(f"e{n}-{i}", f"user{n}-{i}@example.com", "Slow") for i in range(5)]), timeout=deadline)
        for n in range(APPLIES)]
    codes: Counter[str] = Counter()
    for call in calls:
        try:
            response = call.result()
        except grpc.RpcError as exc:
            codes[exc.code().name] += 1
            continue
        codes["OK " + ",".join(sorted({f"{r.status}{'' if r.retryable else ' final'}" for r in response.results}))] += 1
    return codes


def _settled(emu: Emulator) -> int:
    limit = time.monotonic() + SETTLE_LIMIT
    while emu.open_requests and time.monotonic() < limit:
        time.sleep(0.05)
    return emu.open_requests


def test_one_org_gets_one_connection_cap_whatever_the_credentials_its_applies_use(served, emulator):
    conns = _connections(served, emulator)
    emulator.fail_next(10_000, "delay", seconds=0.2)  # a slow org: every data call takes 200 ms
    assert _apply_all(served, conns, CALL_LIMIT) == {"OK 201 final": APPLIES}
    assert emulator.peak_open_requests <= IN_FLIGHT_PER_ORG


def test_applies_to_a_hung_org_answer_before_their_deadline_and_leave_nothing_open(served, emulator):
    conns = _connections(served, emulator)
    emulator.fail_next(10_000, "delay", seconds=30.0)  # every data call hangs for longer than any deadline
    codes = _apply_all(served, conns)
    assert (codes, _settled(emulator)) == ({"OK 504": APPLIES}, 0)


def test_an_org_trickling_its_answers_gets_an_answer_before_the_deadline_and_no_open_request(served, emulator):
    conns = _connections(served, emulator)
    emulator.fail_next(10_000, "trickle", seconds=1.0, call="query")  # the lookup's body: a byte a second
    codes = _apply_all(served, conns)
    assert (codes, _settled(emulator)) == ({"OK 504": APPLIES}, 0)
