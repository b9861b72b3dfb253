"""Three `sfdest serve` processes sharing one real Redis, against one Salesforce emulator, driven round robin.

The replicas are real processes started as tests/server/serving.py starts one; every test module that needs
them shares one set (a module fixture), so the suite stays lean on a 2-core machine.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sfdest.v1 import destination_pb2 as pb

from tests.e2e.salesforce.upsert_rounds import salesforce_env
from tests.server.serving import Served, start_server, stop_server

REPLICAS = 3
CALL_LIMIT = 120.0  # a safety net for one Apply on a loaded machine, never asserted


@dataclass
class Cluster:
    replicas: list[Served]
    _turn: itertools.cycle = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.replicas)))

    def next_replica(self) -> Served:
        with self._lock:
            return self.replicas[next(self._turn)]

    def apply_all(self, requests: Sequence[pb.ApplyRequest]) -> list[pb.ApplyResponse]:
        """Every request at once, spread over the replicas round robin; the answers in request order."""
        calls = [self.next_replica().stub.Apply.future(r, timeout=CALL_LIMIT, wait_for_ready=True) for r in requests]
        return [call.result() for call in calls]


def start_cluster(redis_url: str, racers: int, count: int = REPLICAS, extra: dict[str, str] | None = None) -> Cluster:
    """`count` replicas with the Salesforce backend (emulator mode), room for `racers` Applies each."""
    env = {**salesforce_env(racers), "SFDEST_COORDINATION": redis_url, **(extra or {})}
    replicas: list[Served] = []
    try:
        for _ in range(count):
            replicas.append(start_server(env))
    except BaseException:
        stop_cluster(Cluster(replicas))
        raise
    return Cluster(replicas)


def stop_cluster(cluster: Cluster) -> None:
    for served in cluster.replicas:
        stop_server(served)
