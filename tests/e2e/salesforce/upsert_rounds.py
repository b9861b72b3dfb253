"""Racing upserts of one new Email through `sfdest serve` (Salesforce backend) against the emulator.

Used by tests/e2e/salesforce/test_upsert_leases.py (a few rounds) and by `make soak` (100 rounds of 50):
    python -m tests.e2e.salesforce.upsert_rounds --rounds 100 --racers 50
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, action, grant_connection, identify_message
from tests.server.serving import SALESFORCE_ENV, Served, serving_salesforce
from tools.emulator.server import Emulator

# A safety net, never asserted: the racers of a round now run one after another, slowly on a loaded machine.
RACE_LIMIT = 120.0


def salesforce_env(racers: int) -> dict[str, str]:
    """`sfdest serve` with the Salesforce backend in emulator mode, room for `racers` Applies of one org at once
    (one org may hold at most three quarters of the workers)."""
    return {**SALESFORCE_ENV, "SFDEST_MAX_APPLIES_PER_ORG": str(racers),
            "SFDEST_MAX_WORKERS": str(2 * racers), "SFDEST_MAX_CONCURRENT_RPCS": str(2 * racers)}


@contextmanager
def serving(racers: int, **env: str) -> Iterator[Served]:
    with serving_salesforce(**{**salesforce_env(racers), **env}) as served:
        yield served


def race(served: Served, emu: Emulator, conn: pb.Connection, racers: int) -> int:
    """`racers` concurrent Applies, each one upsert of the same new Email; how many Leads carry it after."""
    email = f"race-{uuid.uuid4().hex[:12]}@example.com"
    calls = [served.stub.Apply.future(pb.ApplyRequest(action=UPSERT_LEAD_ON_EMAIL, connection=conn, events=[
        identify_message(f"e{n}", email, f"Racer{n}")]), timeout=RACE_LIMIT, wait_for_ready=True) for n in range(racers)]
    statuses = sorted(call.result().results[0].status for call in calls)
    leads = sum(1 for r in emu.org.records("Lead") if str(r.get("Email", "")).lower() == email)
    if leads == 1:  # one racer created it, every other one updated that same Lead
        assert statuses == [200] * (racers - 1) + [201], statuses
    return leads


# Match on Email; without one, on FirstName AND LastName AND Company; else create.
UPSERT_LEAD_CASCADE = action(
    object="Lead", operation="OPERATION_UPSERT",
    record_matchers=[{"field": "Email", "value": {"path": "traits.email"}}],
    fallback_matchers=[{"matcher_operator": "MATCHER_OPERATOR_AND", "record_matchers": [
        {"field": "FirstName", "value": {"path": "traits.first_name"}},
        {"field": "LastName", "value": {"path": "traits.last_name"}},
        {"field": "Company", "value": {"path": "traits.company"}}]}],
    field_mappings=[{"field": "LastName", "value": {"path": "traits.last_name"}},
                    {"field": "Title", "value": {"path": "traits.title"}}])


def nameless(event_id: str, last_name: str, title: str) -> pb.Event:
    """An identify event with no Email: a cascade upsert reaches its fallback group (the names and Company)."""
    event = pb.Event(id=event_id)
    event.payload.update({"type": "identify", "traits": {"first_name": "Ann", "last_name": last_name,
                                                          "company": "Racing Co", "title": title}})
    return event


def leads_named(emu: Emulator, last_name: str) -> int:
    return sum(1 for r in emu.org.records("Lead") if r.get("LastName") == last_name and r.get("FirstName") == "Ann"
               and r.get("Company") == "Racing Co")


def race_cascade(served: Served, emu: Emulator, conn: pb.Connection, racers: int) -> int:
    """`racers` concurrent Applies, each one cascade upsert of the same new person (no Email); Leads after."""
    last_name = f"Race{uuid.uuid4().hex[:10]}"
    calls = [served.stub.Apply.future(pb.ApplyRequest(action=UPSERT_LEAD_CASCADE, connection=conn, events=[
        nameless(f"e{n}", last_name, f"T{n}")]), timeout=RACE_LIMIT, wait_for_ready=True) for n in range(racers)]
    results = [call.result().results[0] for call in calls]
    leads = leads_named(emu, last_name)
    if leads == 1:  # one racer created it from the fallback group, every other one updated it
        assert sorted(r.status for r in results) == [200] * (racers - 1) + [201], results
        assert {r.matched_group for r in results if r.status == 200} == {"action.fallback_matchers[0]"}
    return leads


def rounds(served: Served, emu: Emulator, count: int, racers: int) -> list[int]:
    """Leads left by each of `count` rounds (one connection, warmed so token and describe are cached)."""
    conn = grant_connection(emu, "oauth_refresh_token")
    race(served, emu, conn, 1)
    return [race(served, emu, conn, racers) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--racers", type=int, default=50)
    args = parser.parse_args()
    with Emulator(latency_ms=5) as emu, serving(args.racers) as served:
        leads = rounds(served, emu, args.rounds, args.racers)
    print(f"{sum(1 for n in leads if n == 1)} of {args.rounds} rounds end with one Lead "
          f"(Leads per round: min {min(leads)}, max {max(leads)})")


if __name__ == "__main__":
    main()
