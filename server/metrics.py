"""Prometheus metrics in a registry of their own, served on a separate port; also the adapters' Telemetry."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from core.model import EventResult

# An Apply can take minutes (10,000 events against a slow org): buckets reach that far.
APPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    """The server's instruments; implements core.telemetry.Telemetry for the backends. Labels never carry secrets."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.rpcs = Counter("sfdest_rpcs", "RPCs answered, by method and gRPC status code", ["method", "code"],
                            registry=r)
        self.events = Counter("sfdest_events", "Apply results, by outcome and HTTP-like status", ["outcome", "status"],
                              registry=r)
        self.calls = Counter("sfdest_salesforce_calls", "Requests sent to Salesforce, by kind", ["kind"], registry=r)
        self.retries = Counter("sfdest_salesforce_retries", "Salesforce requests retried, by kind and reason",
                               ["kind", "reason"], registry=r)
        self.api_used = Gauge("sfdest_salesforce_api_used", "Daily API requests used, as the org last reported",
                              ["org"], registry=r)
        self.api_limit = Gauge("sfdest_salesforce_api_limit", "Daily API request limit, as the org last reported",
                               ["org"], registry=r)
        self.budget_used = Gauge("sfdest_api_budget_used", "Calls sfdest made to the org in the last 24 hours, "
                                 "as its API budget governor counts them", ["org"], registry=r)
        self.budget_reserved = Gauge("sfdest_api_budget_reserved", "Calls reserved by the API budget governor and "
                                     "not yet sent", ["org"], registry=r)
        self.budget_refused = Gauge("sfdest_api_budget_refused", "Calls the API budget governor refused since the "
                                    "server started", ["org"], registry=r)
        self.write_paths = Counter("sfdest_write_paths", "Writes sent to Salesforce, by path (bulk, composite, "
                                   "collections) and why it was chosen", ["path", "reason"], registry=r)
        self.apply_seconds = Histogram("sfdest_apply_duration_seconds", "Time to answer an Apply, in seconds",
                                       buckets=APPLY_BUCKETS, registry=r)
        self._lock = threading.Lock()
        self._memory: tuple[Gauge, Gauge] | None = None  # watch_memory's gauges, with the memory backend only

    def watch_memory(self, orgs: Callable[[], int], records: Callable[[], int]) -> None:
        """The memory backend's holdings, read at each scrape: orgs kept, and live records across them."""
        if self._memory is None:
            self._memory = (
                Gauge("sfdest_memory_orgs", "Orgs the memory backend keeps now (at most SFDEST_MEMORY_MAX_ORGS)",
                      registry=self.registry),
                Gauge("sfdest_memory_records", "Live records across the memory backend's orgs (each org at most "
                      "SFDEST_MEMORY_MAX_RECORDS_PER_ORG)", registry=self.registry))
        self._memory[0].set_function(orgs)
        self._memory[1].set_function(records)

    # The server's own observations.
    def rpc(self, method: str, code: str) -> None:
        self.rpcs.labels(method, code).inc()

    def applied(self, results: Iterable[EventResult], seconds: float) -> None:
        self.answered(results)
        self.apply_seconds.observe(seconds)

    def answered(self, results: Iterable[EventResult]) -> None:
        """Results sent (an ApplyStream's as they go)."""
        for r in results:
            self.events.labels(r.outcome.value, str(r.status)).inc()

    # core.telemetry.Telemetry.
    def salesforce_call(self, kind: str) -> None:
        self.calls.labels(kind).inc()

    def salesforce_retry(self, kind: str, reason: str) -> None:
        self.retries.labels(kind, reason).inc()

    def api_usage(self, org: str, used: int, limit: int) -> None:
        with self._lock:  # the pair moves together
            self.api_used.labels(org).set(used)
            self.api_limit.labels(org).set(limit)

    def api_budget(self, org: str, used: int, reserved: int, refused: int) -> None:
        with self._lock:
            self.budget_used.labels(org).set(used)
            self.budget_reserved.labels(org).set(reserved)
            self.budget_refused.labels(org).set(refused)

    def write_path(self, org: str, path: str, reason: str) -> None:
        self.write_paths.labels(path, reason).inc()


class MetricsEndpoint:
    """`GET /metrics` over plain HTTP on its own port (a daemon thread), for Prometheus to scrape."""

    def __init__(self, metrics: Metrics, listen: str):
        host, _, port = listen.rpartition(":")
        try:
            self._httpd, self._thread = start_http_server(int(port), host.strip("[]"), registry=metrics.registry)
        except OSError as exc:
            raise OSError(f"cannot serve metrics on {listen} (SFDEST_METRICS_LISTEN): {exc.strerror or exc}") \
                from None
        self.port: int = self._httpd.server_port

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
