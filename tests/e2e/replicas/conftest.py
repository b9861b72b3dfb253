"""The multi-replica suite: one emulator, the session's real Redis and three `sfdest serve` per session (per
xdist worker); every test uses connections of its own, so caches never carry over between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.replicas.cluster import Cluster, start_cluster, stop_cluster
from tools.emulator.server import Emulator

RACERS = 60  # Applies one replica may run at once
STATE_KEY = "replica-suite-state-key-0123456789"  # seals the tokens the replicas share in Redis
SHARED_CALLS = 5  # Salesforce requests in flight to one org across the replicas
MAX_EVENTS = 50_000  # the Bulk handover's figure sends one Apply of 50,000 events (make soak)


@pytest.fixture(scope="session")
def cluster_emulator() -> Iterator[Emulator]:
    with Emulator(latency_ms=2) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def cluster(redis_server) -> Iterator[Cluster]:
    started = start_cluster(redis_server.url, RACERS, extra={"SFDEST_STATE_KEY": STATE_KEY,
                                                              "SFDEST_SHARED_CALLS_PER_ORG": str(SHARED_CALLS),
                                                              "SFDEST_MAX_EVENTS": str(MAX_EVENTS)})
    yield started
    stop_cluster(started)
