"""Settings from the environment, the composition root, and `sfdest serve --help`."""

from __future__ import annotations

import dataclasses

import pytest

from core.service import ApplyService
from server import cli
from server.config import SETTINGS, ConfigError, Settings, settings_table
from server.container import build_container


def test_the_documented_defaults_are_the_settings_defaults():
    assert Settings.from_env({}) == Settings()
    assert {s.attr for s in SETTINGS} == {f.name for f in dataclasses.fields(Settings)}


def test_settings_are_read_from_the_environment():
    settings = Settings.from_env({"SFDEST_BACKEND": "Salesforce", "SFDEST_LISTEN": "[::]:6000",
                                  "SFDEST_MAX_EVENTS": "5000", "SFDEST_REFLECTION": "off",
                                  "SFDEST_GRACE_SECONDS": "2.5", "SFDEST_LOG_LEVEL": "debug"})
    assert (settings.backend, settings.listen, settings.max_events) == ("salesforce", "[::]:6000", 5000)
    assert (settings.reflection, settings.grace_seconds, settings.log_level) == (False, 2.5, "DEBUG")
    assert settings.max_message_bytes == 16 * 1024 * 1024


def test_overrides_win_over_the_environment_and_blank_means_default():
    settings = Settings.from_env({"SFDEST_LISTEN": "0.0.0.0:1", "SFDEST_MAX_WORKERS": " "},
                                 overrides={"SFDEST_LISTEN": "127.0.0.1:2"})
    assert (settings.listen, settings.max_workers) == ("127.0.0.1:2", 16)


@pytest.mark.parametrize(("env", "value"), [
    ("SFDEST_BACKEND", "postgres"), ("SFDEST_LISTEN", "50051"), ("SFDEST_LISTEN", "host:99999"),
    ("SFDEST_MAX_EVENTS", "0"), ("SFDEST_MAX_EVENTS", "many"), ("SFDEST_REFLECTION", "maybe"),
    ("SFDEST_GRACE_SECONDS", "-1"), ("SFDEST_LOG_LEVEL", "LOUD"),
])
def test_a_bad_setting_is_refused_naming_the_variable(env, value):
    with pytest.raises(ConfigError, match=rf"^{env}="):
        Settings.from_env({env: value})


def test_serve_help_prints_the_settings_table(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert settings_table() in out
    for s in SETTINGS:
        assert s.env in out


def test_the_memory_backend_is_selected_by_default_and_shared():
    from adapters.memory.store import MemoryBackend

    container = build_container(Settings())
    assert isinstance(container.backend(), MemoryBackend)
    assert container.backend() is container.backend()
    servicer = container.servicer()
    assert servicer._apply._stores is servicer._validate._stores is container.backend()


def test_selecting_salesforce_without_its_adapter_is_a_clear_config_error(monkeypatch):
    import importlib

    real = importlib.import_module

    def missing(name, *args):
        if name == "adapters.salesforce.backend":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(ConfigError, match="SFDEST_BACKEND=salesforce"):
        build_container(Settings(backend="salesforce")).servicer()


def test_the_salesforce_backend_is_built_from_settings_when_present(monkeypatch):
    import sys
    import types

    made = []

    class SalesforceBackend:
        def __init__(self, **kwargs):
            made.append(kwargs)

    module = types.ModuleType("adapters.salesforce.backend")
    module.SalesforceBackend = SalesforceBackend
    monkeypatch.setitem(sys.modules, "adapters.salesforce.backend", module)
    backend = build_container(Settings(backend="salesforce", salesforce_api_version="v61.0")).backend()
    assert isinstance(backend, SalesforceBackend)
    assert made == [{"api_version": "v61.0", "request_timeout_seconds": 30.0, "allow_loopback_http": False}]


def test_tests_override_the_backend():
    container = build_container(Settings())
    fake = object()
    container.backend.override(fake)
    try:
        assert container.apply_service()._stores is fake
        assert isinstance(container.apply_service(), ApplyService)
    finally:
        container.backend.reset_override()


def test_metrics_are_off_unless_an_address_is_given():
    assert Settings.from_env({}).metrics_listen == ""
    assert Settings.from_env({"SFDEST_METRICS_LISTEN": ""}).metrics_listen == ""
    assert Settings.from_env({"SFDEST_METRICS_LISTEN": "off"}).metrics_listen == ""
    assert Settings.from_env({"SFDEST_METRICS_LISTEN": "0.0.0.0:9100"}).metrics_listen == "0.0.0.0:9100"
    with pytest.raises(ConfigError, match="^SFDEST_METRICS_LISTEN="):
        Settings.from_env({"SFDEST_METRICS_LISTEN": "9100"})


@pytest.mark.parametrize(("env", "value"), [
    ("SFDEST_DEADLINE_MARGIN_FRACTION", "0.95"), ("SFDEST_DEADLINE_MARGIN_FRACTION", "-0.1"),
    ("SFDEST_KEEPALIVE_TIME_MS", "10"), ("SFDEST_MAX_CONCURRENT_STREAMS", "0"), ("SFDEST_DRAIN_SECONDS", "x"),
    ("SFDEST_KEEPALIVE_PERMIT_WITHOUT_CALLS", "sometimes"),
])
def test_bad_hardening_settings_are_refused_naming_the_variable(env, value):
    with pytest.raises(ConfigError, match=rf"^{env}="):
        Settings.from_env({env: value})


def test_every_setting_has_a_documented_default_and_meaning_in_both_tables():
    from server.config import settings_markdown

    markdown = settings_markdown()
    for s in SETTINGS:
        assert s.env.startswith("SFDEST_") and s.meaning
        assert f"| `{s.env}` |" in markdown
    assert len(markdown.splitlines()) == len(SETTINGS) + 2


def test_serve_refuses_to_start_with_grpc_trace_set(monkeypatch):
    from server.app import serve

    monkeypatch.setenv("GRPC_TRACE", "http")
    with pytest.raises(ConfigError, match="GRPC_TRACE"):
        serve(Settings(listen="127.0.0.1:0", metrics_listen=""))


def test_serve_help_lists_the_hardening_settings(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    for env in ("SFDEST_TLS_CERT_FILE", "SFDEST_AUTH_TOKEN_FILE", "SFDEST_METRICS_LISTEN", "SFDEST_KEEPALIVE_TIME_MS",
                "SFDEST_MAX_CONNECTION_AGE_MS", "SFDEST_DEADLINE_MARGIN_FRACTION", "SFDEST_DRAIN_SECONDS"):
        assert env in out


def test_a_salesforce_backend_that_takes_telemetry_gets_the_servers_metrics(monkeypatch):
    import sys
    import types

    from server.metrics import Metrics

    made = []

    class SalesforceBackend:
        def __init__(self, api_version, request_timeout_seconds, allow_loopback_http, telemetry=None):
            made.append(telemetry)

    module = types.ModuleType("adapters.salesforce.backend")
    module.SalesforceBackend = SalesforceBackend
    monkeypatch.setitem(sys.modules, "adapters.salesforce.backend", module)
    container = build_container(Settings(backend="salesforce"))
    container.backend()
    assert len(made) == 1 and isinstance(made[0], Metrics) and made[0] is container.metrics()
