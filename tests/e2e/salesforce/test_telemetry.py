"""The REST adapter reports Salesforce calls by kind, retries and API usage, as the emulator saw them."""

from __future__ import annotations

from collections import Counter

from core.model import Operation
from core.service import ApplyService
from tests.builders import identify, lead_action
from tests.e2e.salesforce.conftest import refresh_connection


class Recorder:
    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.retries: Counter = Counter()
        self.usage: list[tuple[str, int, int]] = []
        self.paths: Counter = Counter()

    def salesforce_call(self, kind: str) -> None:
        self.calls[kind] += 1

    def salesforce_retry(self, kind: str, reason: str) -> None:
        self.retries[(kind, reason)] += 1

    def api_usage(self, org: str, used: int, limit: int) -> None:
        self.usage.append((org, used, limit))

    def write_path(self, org: str, path: str, reason: str) -> None:
        self.paths[(path, reason)] += 1


def test_calls_by_kind_retries_and_usage_match_the_emulator(emulator, backend_factory):
    recorder = Recorder()
    service = ApplyService(backend_factory(telemetry=recorder))
    conn = refresh_connection(emulator)
    created = service.apply(conn, lead_action(Operation.CREATE), [identify(f"c{i}", email=f"{i}@x.com")
                                                                  for i in range(250)])
    assert {r.status for r in created.results} == {201}
    emulator.fail_next(1, "unavailable", method="PATCH")
    updated = service.apply(conn, lead_action(Operation.UPSERT), [identify("u", email="1@x.com", first_name="A")])
    assert updated.results[0].status == 200

    assert recorder.calls == Counter({"auth": 1, "describe": 1, "create": 2, "query": 1, "update": 2})
    assert sum(v for k, v in recorder.calls.items() if k != "auth") == emulator.api_calls
    assert recorder.retries == Counter({("update", "SERVER_UNAVAILABLE"): 1})
    # two writes, each small enough that REST costs fewer calls than a Bulk job (one call each here)
    assert recorder.paths == Counter({("collections", "small"): 2})
    host, used, limit = recorder.usage[-1]
    assert host == "127.0.0.1" and used == emulator.api_calls and limit == 100_000
