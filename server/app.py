"""The gRPC server: limits, TLS, token auth, health, reflection, metrics; graceful shutdown on SIGTERM and SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sfdest.v1 import destination_pb2, destination_pb2_grpc

from adapters.memory.store import MemoryBackend
from adapters.salesforce.instance_url import is_loopback_host
from server import reflection, security, signals
from server.config import ConfigError, Settings
from server.container import Container, build_container
from server.interceptors import CallInterceptor
from server.metrics import Metrics, MetricsEndpoint
from server.org_limits import org_cap
from server.shutdown import ShutdownClock

log = logging.getLogger("sfdest")
SERVICE_NAME = destination_pb2.DESCRIPTOR.services_by_name["DestinationService"].full_name
HEALTH_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


def rpc_threads(settings: Settings) -> int:
    """Threads for RPCs: one for every RPC the server lets in, so a call never queues for a thread (refusals
    stay immediate); SFDEST_MAX_WORKERS bounds the Applies running at once (see server.org_limits)."""
    return max(settings.max_workers, settings.max_concurrent_rpcs or 4 * settings.max_workers)


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """grpc channel arguments for the limits and keepalive enforcement in `settings`."""
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
        ("grpc.keepalive_time_ms", settings.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_ms),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", settings.keepalive_min_ping_interval_ms),
        ("grpc.http2.max_ping_strikes", settings.keepalive_max_ping_strikes),
        ("grpc.keepalive_permit_without_calls", int(settings.keepalive_permit_without_calls)),
        ("grpc.so_reuseport", 0),  # an address in use is an error, not a second server sharing it
    ]
    if settings.max_connection_idle_ms:
        options.append(("grpc.max_connection_idle_ms", settings.max_connection_idle_ms))
    if settings.max_connection_age_ms:
        options.append(("grpc.max_connection_age_ms", settings.max_connection_age_ms))
        options.append(("grpc.max_connection_age_grace_ms", settings.max_connection_age_grace_ms))
    return options


@dataclass
class Running:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    backend: object = None
    metrics: Metrics | None = None  # the instruments (the backends report to them too)
    metrics_endpoint: MetricsEndpoint | None = None
    # Set once the server refuses new calls (in-flight ones may still be finishing).
    refusing: threading.Event = field(default_factory=threading.Event)
    # Set to end the drain early (a second SIGTERM does).
    end_drain: threading.Event = field(default_factory=threading.Event)
    # Tells running calls when the grace ends, so they answer before it and start no request after.
    shutdown: ShutdownClock = field(default_factory=ShutdownClock)

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def stop(self, grace: float, drain: float = 0.0) -> None:
        """Health NOT_SERVING first (for `drain` seconds calls are still taken, so load balancers notice);
        then new calls are refused and in-flight ones get `grace` seconds to finish before they are cancelled."""
        self.health.enter_graceful_shutdown()
        if drain > 0 and not self.refusing.is_set():
            self.end_drain.wait(drain)
        self.shutdown.begin(grace)
        stopped = self.server.stop(grace)
        self.refusing.set()
        stopped.wait()
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()  # e.g. the Salesforce backend's HTTP connection pool
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.close()
            self.metrics_endpoint = None


def _is_loopback(listen: str) -> bool:
    return is_loopback_host(listen.rpartition(":")[0].strip("[]"))


def build_server(settings: Settings, container: Container | None = None) -> Running:
    """A started server bound to settings.listen (port 0 picks a free port; Running.port tells which)."""
    container = container or build_container(settings)
    servicer = container.servicer()  # fails here, before listening, if the backend is misconfigured
    token = security.TokenSource(settings)
    credentials = security.server_credentials(settings)
    metrics = container.metrics()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=rpc_threads(settings), thread_name_prefix="sfdest-rpc"),
        interceptors=[CallInterceptor(token, metrics, security.scoped_tokens(settings))],
        options=server_options(settings),
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs or None,
    )
    destination_pb2_grpc.add_DestinationServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        reflection.enable(server, (SERVICE_NAME, HEALTH_NAME))
    hint = " (check SFDEST_TLS_CERT_FILE and SFDEST_TLS_KEY_FILE)" if credentials else ""
    try:
        port = server.add_secure_port(settings.listen, credentials) if credentials else \
            server.add_insecure_port(settings.listen)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {settings.listen}{hint}: {exc}") from None
    if port == 0:
        raise OSError(f"cannot listen on {settings.listen}{hint}")
    try:
        endpoint = MetricsEndpoint(metrics, settings.metrics_listen) if settings.metrics_listen else None
    except OSError:
        server.stop(None)  # release the gRPC port too
        raise
    backend = container.backend()
    if isinstance(backend, MemoryBackend):
        metrics.watch_memory(lambda: backend.org_count, lambda: backend.record_count)
    server.start()
    running = Running(server, health_servicer, port, backend, metrics, endpoint,
                      shutdown=container.shutdown())
    running.set_serving(True)
    return running


def _startup_fields(settings: Settings, running: Running) -> dict[str, object]:
    tls = "mtls" if settings.tls_client_ca_file else "tls" if settings.tls_cert_file else "off"
    auth = "bearer" if settings.auth_token or settings.auth_token_file or settings.auth_tokens_file else "off"
    endpoint = running.metrics_endpoint
    return {"listen": settings.listen, "port": running.port, "backend": settings.backend, "tls": tls, "auth": auth,
            "reflection": settings.reflection, "metrics_port": endpoint.port if endpoint else None}


def startup_warnings(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """What an operator should hear at start: (message, fields) for each setting that will not do what it seems."""
    warnings: list[tuple[str, dict[str, Any]]] = []
    if not settings.tls_cert_file and not _is_loopback(settings.listen):
        warnings.append(("serving plaintext on a non-loopback address: use TLS (SFDEST_TLS_CERT_FILE) unless a "
                         "proxy terminates it", {"listen": settings.listen}))
    if not (settings.auth_token or settings.auth_token_file or settings.auth_tokens_file) and \
            not _is_loopback(settings.listen):
        warnings.append(("no caller authentication on a non-loopback address: set SFDEST_AUTH_TOKEN_FILE (or "
                         "require client certificates) so only the host can call", {"listen": settings.listen}))
    per_org = org_cap(settings.max_applies_per_org, settings.max_workers)
    if 0 < per_org < settings.max_applies_per_org:
        warnings.append((f"SFDEST_MAX_APPLIES_PER_ORG={settings.max_applies_per_org} is lowered to {per_org}: one "
                         f"org may hold at most three quarters of SFDEST_MAX_WORKERS={settings.max_workers}, so "
                         "other orgs always find a worker; raise SFDEST_MAX_WORKERS for more",
                         {"max_applies_per_org": per_org}))
    return warnings


def serve(settings: Settings, container: Container | None = None,
          started: Callable[[Running], None] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; a second signal cuts the drain short.

    `started` is called with the running server once it serves. Returns the process exit code.
    """
    if os.environ.get("GRPC_TRACE", "").strip():
        raise ConfigError("GRPC_TRACE is set: gRPC's trace output prints call metadata, bearer tokens included; "
                          "unset it")
    stop = threading.Event()
    received: list[str] = []
    current: list[Running] = []

    def on_signal(sig: signal.Signals) -> None:  # in the watcher thread (server/signals.py), not a handler
        received.append(sig.name)
        if stop.is_set() and current:
            current[0].end_drain.set()
        stop.set()

    with signals.delivered_to(on_signal, (signal.SIGTERM, signal.SIGINT)):
        log.debug("settings", extra={"fields": {"settings": settings.public()}})
        running = build_server(settings, container)
        current.append(running)
        host = settings.listen.rpartition(":")[0]
        fields = _startup_fields(settings, running)
        log.info("sfdest listening on %s:%d", host, running.port, extra={"fields": fields})
        for message, fields in startup_warnings(settings):
            log.warning(message, extra={"fields": fields})
        if started is not None:
            started(running)
        stop.wait()
        log.info("%s received: health NOT_SERVING, draining for up to %ss", received[0],
                 settings.drain_seconds + settings.grace_seconds)
        running.stop(settings.grace_seconds, settings.drain_seconds)
        log.info("sfdest stopped")
        return 0
