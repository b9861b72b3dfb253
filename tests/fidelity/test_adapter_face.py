"""Face 2: every recorded answer the adapter consumes, fed to adapters/salesforce through httpx.MockTransport.

The adapter must parse it to the status, outcome and retryability a real org's answer means for each event
(or for the whole call: an auth error's class, status and retryable flag). A difference fails the test.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.model import EventResult
from tests.fidelity.adapter_replay import Seen, replay
from tests.fidelity.catalogue import WITH_ADAPTER, Exchange


def result_differences(want: dict[str, Any], got: EventResult | None, where: str) -> list[str]:
    if got is None:
        return [f"{where}: expected {want}, the adapter reported nothing"]
    seen = {"status": got.status, "outcome": got.outcome.value, "retryable": got.retryable,
            "error_code": got.error.code if got.error else None,
            "fields": list(got.error.fields) if got.error else []}
    return [f"{where}.{key}: expected {value!r}, got {seen[key]!r}"
            + (f" ({got.error.code}: {got.error.message[:200]})" if got.error else "")
            for key, value in want.items() if seen[key] != value]


def differences(expect: Any, seen: Seen) -> list[str]:
    if isinstance(expect, list):
        if seen.error is not None:
            return [f"the whole call failed: {seen.error.error}"]
        if len(seen.results) != len(expect):
            return [f"expected {len(expect)} results, got {len(seen.results)}"]
        return [d for n, (want, got) in enumerate(zip(expect, seen.results, strict=True))
                for d in result_differences(want, got, f"record[{n}]")]
    if expect.get("ok"):
        return [] if seen.error is None else [f"expected success, got {seen.error.error}"]
    if "records" in expect:
        if seen.error is not None:
            return [f"expected records, got {seen.error.error}"]
        out = [] if seen.records == expect["records"] else [f"records: expected {expect['records']}, got {seen.records}"]
        if seen.followed_next != expect["follows_next"]:
            out.append(f"follows nextRecordsUrl: expected {expect['follows_next']}, got {seen.followed_next}")
        return out
    if "fields" in expect and "error_code" not in expect:
        return describe_differences(expect["fields"], seen)
    return result_differences(expect, seen.error, "call")


def describe_differences(flags: dict[str, dict[str, Any]], seen: Seen) -> list[str]:
    if seen.error is not None or seen.describe is None:
        return [f"describe failed: {seen.error.error if seen.error else 'nothing parsed'}"]
    out = []
    for name, want in flags.items():
        f = seen.describe.field(name)
        if f is None:
            out.append(f"{name}: not parsed")
            continue
        got = {"type": f.type, "id_lookup": f.id_lookup, "nillable": f.nillable, "createable": f.createable,
               "updateable": f.updateable}
        out.extend(f"{name}.{k}: recorded {v!r}, parsed {got[k]!r}" for k, v in want.items() if got[k] != v)
    return out


@pytest.mark.parametrize("exchange", WITH_ADAPTER, ids=lambda e: e.id)
def test_the_adapter_reads_the_recorded_answer(exchange: Exchange) -> None:
    seen = replay(exchange)
    problems = differences(exchange.adapter["expect"], seen)
    face = exchange.adapter["face"]
    if face == "token" and exchange.adapter["expect"].get("ok"):
        token = exchange.response["json"]["access_token"]
        if seen.bearer != f"Bearer {token}":
            problems.append(f"the data call carried {seen.bearer!r}, not the recorded access token")
    assert not problems, f"{exchange.id} ({exchange.kind}):\n  " + "\n  ".join(problems)
