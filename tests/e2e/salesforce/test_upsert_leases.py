"""Racing upserts on a looked-up key: one `sfdest serve` serialises the events that may create one record,
whichever matcher group (a cascade's fallback) the create comes from."""

from __future__ import annotations

from tests.e2e.salesforce import upsert_rounds

ROUNDS, RACERS = 5, 50  # `make soak` runs 100 rounds of 50


def test_rounds_of_racing_upserts_of_one_new_email_each_end_with_one_lead(emulator_factory):
    emulator = emulator_factory(latency_ms=5)
    with upsert_rounds.serving(RACERS) as served:
        leads = upsert_rounds.rounds(served, emulator, ROUNDS, RACERS)
    assert leads == [1] * ROUNDS


def test_racing_cascade_upserts_without_an_email_create_one_lead_from_the_fallback_group(emulator_factory):
    emulator = emulator_factory(latency_ms=5)
    with upsert_rounds.serving(RACERS) as served:
        conn = upsert_rounds.grant_connection(emulator, "oauth_refresh_token")
        leads = [upsert_rounds.race_cascade(served, emulator, conn, RACERS) for _ in range(3)]
    assert leads == [1] * 3
