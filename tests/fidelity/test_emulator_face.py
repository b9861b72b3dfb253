"""Face 1: every recorded exchange replayed against the emulator (a real HTTP server on loopback).

The emulator must answer with the recorded status, the same JSON shape recursively (key sets and value
types; values where they are protocol constants), the same error codes, the headers that matter, and the
same CSV columns. A difference fails the test.
"""

from __future__ import annotations

import pytest

from tests.fidelity.catalogue import EXCHANGES, Exchange
from tests.fidelity.emulator_replay import Answer, replay
from tests.fidelity.shape import csv_differences, json_differences, subset_differences
from tools.emulator.server import Emulator


def _media_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


def header_differences(expected: dict[str, str], live: Answer) -> list[str]:
    """`present` / `absent` for presence, the media type for Content-Type, else the exact value."""
    out = []
    for name, want in expected.items():
        got = live.headers.get(name)
        if want == "present":
            ok = got is not None
        elif want == "absent":
            ok = got is None
        elif name.lower() == "content-type":
            ok = got is not None and _media_type(got) == _media_type(want)
        else:
            ok = got == want
        if not ok:
            out.append(f"header {name}: recorded {want!r}, live {got!r}")
    return out


def body_differences(response: dict, live: Answer) -> list[str]:
    if "json" in response:
        try:
            body = live.json()
        except ValueError:
            return [f"live body is not JSON: {live.body[:200]!r}"]
        if response.get("compare") == "subset":
            return subset_differences(response["json"], body)
        return json_differences(response["json"], body, extra_allowed=response.get("extra_keys_allowed", ()))
    if "csv" in response:
        return csv_differences(response["csv"], live.body.decode("utf-8"))
    if response.get("empty"):
        return [] if not live.body else [f"live body should be empty: {live.body[:200]!r}"]
    return []


@pytest.mark.parametrize("exchange", EXCHANGES, ids=lambda e: e.id)
def test_the_emulator_answers_as_the_recording(exchange: Exchange, emulator: Emulator) -> None:
    live = replay(emulator, exchange)
    recorded = exchange.response
    problems = []
    if live.status != recorded["status"]:
        problems.append(f"status: recorded {recorded['status']}, live {live.status}: {live.body[:300]!r}")
    else:
        problems.extend(body_differences(recorded, live))
    problems.extend(header_differences(recorded.get("headers", {}), live))
    assert not problems, f"{exchange.id} ({exchange.kind}, {exchange.path.name}):\n  " + "\n  ".join(problems)
