"""The in-process gRPC server: health on shutdown, reflection switch, message size, address in use."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from sfdest.v1 import destination_pb2 as pb

from server.app import SERVICE_NAME, Running, build_server
from server.config import ConfigError
from tests.builders import local_settings

CALL_LIMIT = 30.0


def _health(running: Running, service: str) -> int:
    return running.health.Check(health_pb2.HealthCheckRequest(service=service), None).status


def test_stopping_marks_health_not_serving(start):
    running, _ = start()
    assert _health(running, "") == _health(running, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
    running.stop(0)
    assert _health(running, "") == _health(running, SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING


def test_reflection_can_be_switched_off(start):
    _, channel = start(reflection=False)
    with pytest.raises(grpc.RpcError) as raised:
        ProtoReflectionDescriptorDatabase(channel).get_services()
    assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED


def test_an_address_in_use_is_refused_not_shared(start):
    running, _ = start()
    with pytest.raises(OSError, match="cannot listen"):
        build_server(local_settings(listen=f"127.0.0.1:{running.port}"))


def test_a_misconfigured_backend_fails_before_listening(monkeypatch):
    import importlib

    real = importlib.import_module

    def missing(name, *args):
        if name.startswith("adapters.salesforce"):
            raise ModuleNotFoundError(name=name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(ConfigError):
        build_server(local_settings(backend="salesforce"))


def test_the_served_service_is_the_contracts():
    assert SERVICE_NAME == "sfdest.v1.DestinationService"
    assert pb.DESCRIPTOR.package == "sfdest.v1"


def test_stopping_closes_the_backend():
    from server.container import build_container

    class Closable:
        closed = False

        def open(self, connection, deadline=None, stop=None):
            raise AssertionError("not called")

        def close(self):
            self.closed = True

    settings = local_settings()
    container = build_container(settings)
    backend = Closable()
    container.backend.override(backend)
    running = build_server(settings, container)
    assert not backend.closed
    running.stop(0)
    assert backend.closed


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_http_client_loggers_stay_quiet_because_query_urls_carry_matcher_values(level):
    import logging

    from server.logs import QUIET_LOGGERS, configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(level)
        assert logging.getLogger("sfdest.rpc").isEnabledFor(logging.INFO)
        for name in QUIET_LOGGERS:
            assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
