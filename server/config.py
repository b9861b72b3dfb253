"""Settings from the environment (SFDEST_*), with defaults, checks and a printable table."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

BACKENDS = ("memory", "salesforce")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A setting has a value sfdest cannot use; the message names the variable."""


def _choice(options: tuple[str, ...], fold: Callable[[str], str] = str.lower) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = fold(raw.strip())
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value
    return parse


def _int(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value
    return parse


def _seconds(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not 0 <= value < 86_400:
        raise ValueError("must be between 0 and 86400 seconds")
    return value


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError("must be true or false")
    return value in _TRUE


def _listen(raw: str) -> str:
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65_535:
        raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:50051 or [::]:50051 (port 0 picks a free one)")
    return raw.strip()


@dataclass(frozen=True)
class Setting:
    env: str
    attr: str
    default: str
    parse: Callable[[str], Any]
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SFDEST_BACKEND", "backend", "memory", _choice(BACKENDS),
            "Record store: memory (in-process org per instance_url, forgets on exit) or salesforce (REST API)"),
    Setting("SFDEST_LISTEN", "listen", "127.0.0.1:50051", _listen, "gRPC listen address HOST:PORT"),
    Setting("SFDEST_MAX_EVENTS", "max_events", "10000", _int(1), "Most events one Apply may carry"),
    Setting("SFDEST_MAX_WORKERS", "max_workers", "16", _int(1), "Threads serving RPCs"),
    Setting("SFDEST_MAX_CONCURRENT_RPCS", "max_concurrent_rpcs", "64", _int(0),
            "RPCs in flight before new ones get RESOURCE_EXHAUSTED (0 = no limit)"),
    Setting("SFDEST_MAX_MESSAGE_MB", "max_message_mb", "16", _int(1), "Largest request or response, in MiB"),
    Setting("SFDEST_GRACE_SECONDS", "grace_seconds", "10", _seconds,
            "On SIGTERM/SIGINT, time in-flight RPCs get to finish"),
    Setting("SFDEST_DEADLINE_MARGIN_SECONDS", "deadline_margin_seconds", "0.25", _seconds,
            "Time kept back from the caller's deadline to build and send the response"),
    Setting("SFDEST_LOG_LEVEL", "log_level", "INFO", _choice(LOG_LEVELS, str.upper), "Log level (logs go to stderr)"),
    Setting("SFDEST_REFLECTION", "reflection", "true", _bool, "Serve gRPC reflection (for grpcurl, grpcui)"),
    Setting("SFDEST_SALESFORCE_API_VERSION", "salesforce_api_version", "v62.0", str.strip,
            "REST API version when a connection names none (salesforce backend)"),
    Setting("SFDEST_SALESFORCE_TIMEOUT_SECONDS", "salesforce_timeout_seconds", "30", _seconds,
            "HTTP timeout of one Salesforce request (salesforce backend)"),
    Setting("SFDEST_SALESFORCE_ALLOW_LOOPBACK_HTTP", "salesforce_allow_loopback_http", "false", _bool,
            "Accept http://127.0.0.1 instance URLs, for the Salesforce emulator only (salesforce backend)"),
)


@dataclass(frozen=True)
class Settings:
    backend: str = "memory"
    listen: str = "127.0.0.1:50051"
    max_events: int = 10_000
    max_workers: int = 16
    max_concurrent_rpcs: int = 64
    max_message_mb: int = 16
    grace_seconds: float = 10.0
    deadline_margin_seconds: float = 0.25
    log_level: str = "INFO"
    reflection: bool = True
    salesforce_api_version: str = "v62.0"
    salesforce_timeout_seconds: float = 30.0
    salesforce_allow_loopback_http: bool = False

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None) -> Settings:
        """Settings from `env` (default os.environ), with `overrides` (by variable name) taking precedence."""
        source = dict(os.environ if env is None else env)
        source.update(overrides or {})
        values = {}
        for s in SETTINGS:
            raw = source.get(s.env, "")
            raw = raw if raw.strip() else s.default
            try:
                values[s.attr] = s.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{s.env}={raw!r}: {exc}") from None
        return cls(**values)


def settings_table() -> str:
    """The documented settings as a plain-text table: name, default, meaning."""
    rows = [("Variable", "Default", "Meaning")] + [(s.env, s.default, s.meaning) for s in SETTINGS]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows)
