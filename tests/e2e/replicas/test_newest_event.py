"""Newest event wins across replicas: shuffled events of many records, a tenth of them sent again, spread over
three replicas; every record ends at its newest event's values and every event older than one already applied
is answered STALE_SKIPPED naming a newer winner.

`make test` runs it at 2,000 events on 100 keys; `make soak` at the issue's scale (NEWEST_EVENTS=20000,
NEWEST_KEYS=500) and prints the figure.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter

from sfdest.v1 import destination_pb2 as pb

from tests.builders import UPSERT_LEAD_ON_EMAIL, grant_connection, identify_message

EVENTS = int(os.environ.get("NEWEST_EVENTS", "2000"))
KEYS = int(os.environ.get("NEWEST_KEYS", "100"))
PER_APPLY = int(os.environ.get("NEWEST_PER_APPLY", "50"))
IN_FLIGHT = 6  # Applies sent at once (two per replica); the answers of one round are known before the next
STALE = pb.OUTCOME_STALE_SKIPPED
ORDERED = pb.Action()
ORDERED.CopyFrom(UPSERT_LEAD_ON_EMAIL)
ORDERED.newest_event_wins = True


def _event(run: str, key: int, t: int) -> pb.Event:
    e = identify_message(f"{run}-k{key}-t{t:03d}", f"newest-{run}-{key}@example.com", f"K{key}T{t}")
    e.timestamp.FromSeconds(1_700_000_000 + t)
    return e


def _stamp(e: pb.Event) -> tuple[int, str]:
    return e.timestamp.ToNanoseconds(), e.id


def _answer(r: pb.EventResult) -> tuple:
    return r.status, r.outcome, r.record_id, r.winning_event_id, r.error.code


def _send(cluster, conn, events: list[pb.Event], newest_applied: dict[str, tuple[int, str]],
          answers: dict[str, pb.EventResult], must_be_stale: set[str]) -> None:
    """Send `events` in rounds of IN_FLIGHT Applies; before each round, note the events older than one whose
    write was already answered: those must come back STALE_SKIPPED."""
    batches = [events[i:i + PER_APPLY] for i in range(0, len(events), PER_APPLY)]
    for start in range(0, len(batches), IN_FLIGHT):
        round_ = batches[start:start + IN_FLIGHT]
        must_be_stale |= {e.id for b in round_ for e in b if e.id not in answers
                          and newest_applied.get(e.payload["traits"]["email"], (-1, "")) > _stamp(e)}
        requests = [pb.ApplyRequest(action=ORDERED, connection=conn, events=b) for b in round_]
        for batch, response in zip(round_, cluster.apply_all(requests), strict=True):
            for e, r in zip(batch, response.results, strict=True):
                answers.setdefault(e.id, r)
                key = e.payload["traits"]["email"]
                if r.outcome != STALE and r.status in (200, 201):
                    newest_applied[key] = max(newest_applied.get(key, (-1, "")), _stamp(e))


def test_shuffled_events_over_three_replicas_end_at_the_newest_values(cluster, cluster_emulator):
    emu, run = cluster_emulator, uuid.uuid4().hex[:10]
    conn = grant_connection(emu, "oauth_refresh_token")
    rng = random.Random(11)
    repeats = EVENTS // 10
    unique = [_event(run, n % KEYS, n // KEYS) for n in range(EVENTS - repeats)]
    by_id = {e.id: e for e in unique}
    rng.shuffle(unique)
    again = rng.sample(unique, repeats)  # a host resending a tenth of the events (same id, same timestamp)
    newest = {}
    for e in unique:
        key = e.payload["traits"]["email"]
        newest[key] = max(newest.get(key, e), e, key=_stamp)
    applied: dict[str, tuple[int, str]] = {}
    answers: dict[str, pb.EventResult] = {}
    must_be_stale: set[str] = set()
    _send(cluster, conn, unique, applied, answers, must_be_stale)
    first = dict(answers)
    resent: dict[str, pb.EventResult] = {}
    _send(cluster, conn, again, applied, resent, set())

    leads = {str(r["Email"]).lower(): r["LastName"] for r in emu.org.records("Lead")
             if str(r.get("Email", "")).startswith(f"newest-{run}-")}
    at_newest = sum(1 for key, e in newest.items() if leads.get(key) == e.payload["traits"]["last_name"])
    stale = [r for r in first.values() if r.outcome == STALE]
    outcomes = Counter(pb.Outcome.Name(r.outcome) for r in first.values())
    known_older = sum(1 for i in must_be_stale if first[i].outcome == STALE)
    print(f"\nnewest event wins: {EVENTS} events on {KEYS} keys ({repeats} sent twice), shuffled, over "
          f"{len(cluster.replicas)} replicas: {at_newest} of {KEYS} keys end at the newest event's values; "
          f"{known_older} of {len(must_be_stale)} events "
          f"older than an applied one STALE_SKIPPED; outcomes {dict(sorted(outcomes.items()))}; "
          f"resent events answered as first: {sum(_answer(resent[i]) == _answer(first[i]) for i in resent)} of {len(resent)}")
    assert at_newest == KEYS and len(leads) == KEYS
    assert known_older == len(must_be_stale)
    assert must_be_stale  # the rounds did send events older than ones already applied
    for r in stale:
        loser, winner = by_id[r.event_id], by_id.get(r.winning_event_id)
        assert winner is not None and winner.payload["traits"]["email"] == loser.payload["traits"]["email"]
        assert _stamp(winner) > _stamp(loser)
    assert all(first[e.id].status in (200, 201) and first[e.id].outcome != STALE for e in newest.values())
    assert set(outcomes) <= {"OUTCOME_CREATED", "OUTCOME_UPDATED", "OUTCOME_STALE_SKIPPED"}
    assert all(_answer(resent[i]) == _answer(first[i]) for i in resent)  # the idempotency ledger answers a resent event
