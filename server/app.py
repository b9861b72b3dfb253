"""The gRPC server: DestinationService, health, reflection; graceful shutdown on SIGTERM and SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sfdest.v1 import destination_pb2, destination_pb2_grpc

from server.config import Settings
from server.container import Container, build_container

log = logging.getLogger("sfdest")
# These log every request URL at INFO, and a SOQL query URL carries matcher values: keep them quiet.
QUIET_LOGGERS = ("httpx", "httpcore")
SERVICE_NAME = destination_pb2.DESCRIPTOR.services_by_name["DestinationService"].full_name


def configure_logging(level: str) -> None:
    """Logs go to stderr, one line each (stdout is left to the CLI's results)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_http_loggers()


def quiet_http_loggers() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


@dataclass
class Running:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    backend: object = None

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def stop(self, grace: float) -> None:
        """Tell load balancers first (health NOT_SERVING), then let in-flight RPCs finish within `grace`."""
        self.set_serving(False)
        self.server.stop(grace).wait()
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()  # e.g. the Salesforce backend's HTTP connection pool


def build_server(settings: Settings, container: Container | None = None) -> Running:
    """A started server bound to settings.listen (port 0 picks a free port; Running.port tells which)."""
    container = container or build_container(settings)
    servicer = container.servicer()  # fails here, before listening, if the backend is misconfigured
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="sfdest-rpc"),
        options=options,
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs or None,
    )
    destination_pb2_grpc.add_DestinationServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        names = (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    try:
        port = server.add_insecure_port(settings.listen)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {settings.listen}: {exc}") from None
    if port == 0:
        raise OSError(f"cannot listen on {settings.listen}")
    server.start()
    running = Running(server, health_servicer, port, container.backend())
    running.set_serving(True)
    return running


def serve(settings: Settings, container: Container | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully. Returns the process exit code."""
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        running = build_server(settings, container)
        host = settings.listen.rpartition(":")[0]
        log.info("sfdest listening on %s:%d backend=%s reflection=%s", host, running.port, settings.backend,
                 "on" if settings.reflection else "off")
        stop.wait()
        log.info("%s received: health NOT_SERVING, draining for up to %ss", received[0], settings.grace_seconds)
        running.stop(settings.grace_seconds)
        log.info("sfdest stopped")
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
