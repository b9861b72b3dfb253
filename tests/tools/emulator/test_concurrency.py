"""Many clients at once against one emulator, and two emulators kept apart."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.tools.emulator.helpers import V, lead


def test_concurrent_collection_writes_all_land_and_are_counted(emulator):
    token = emulator.issue_token()

    def worker(n: int) -> list[bool]:
        with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
            outcomes = []
            for _ in range(10):
                records = [{"attributes": {"type": "Lead"}, **lead(LastName=f"W{n}")} for _ in range(5)]
                response = client.post(f"{V}/composite/sobjects", json={"allOrNone": True, "records": records})
                outcomes += [r["success"] for r in response.json()]
            return outcomes

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [ok for result in pool.map(worker, range(8)) for ok in result]
    assert outcomes == [True] * 400
    assert len(emulator.org.records("Lead")) == 400
    assert emulator.api_calls == 80 and emulator.calls["collection_create"] == 80


def test_two_emulators_have_separate_orgs_and_tokens(emulator_factory):
    first, second = emulator_factory(), emulator_factory()
    first.org.seed("Lead", lead())
    token = first.issue_token()
    assert httpx.get(f"{second.base_url}{V}/sobjects/", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert second.org.records("Lead") == [] and len(first.org.records("Lead")) == 1
