"""Settings from the environment (SFDEST_*), with defaults, checks and a printable table."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.write_paths import MODES

BACKENDS = ("memory", "salesforce")
WRITE_PATHS = MODES  # SFDEST_WRITE_PATH: auto, composite, collections, bulk
MIN_TOKEN_LENGTH = 16
MIN_STATE_KEY_LENGTH = 32
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


def _optional_listen(raw: str) -> str:
    """HOST:PORT, or empty (or off) for "not at all"."""
    return "" if raw.strip().lower() in ("", "off") else _listen(raw)


def _fraction(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number between 0 and 0.9") from None
    if not 0 <= value <= 0.9:
        raise ValueError("must be between 0 and 0.9")
    return value


def _share(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number above 0 and at most 1") from None
    if not 0 < value <= 1:
        raise ValueError("must be above 0 and at most 1")
    return value


def _path(raw: str) -> str:
    return raw.strip()


def _coordination(raw: str) -> Secret:
    """Empty (or local) for in-process coordination, else a Redis URL."""
    value = raw.strip()
    if value.lower() in ("", "local"):
        return Secret("")
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be local (or empty) or a Redis URL: redis://HOST:PORT/DB, rediss://... or unix://...")
    return Secret(value)


def _state_key(raw: str) -> Secret:
    value = raw.strip()
    if value and (len(value) < MIN_STATE_KEY_LENGTH or not value.isascii() or not value.isprintable()):
        raise ValueError(f"must be at least {MIN_STATE_KEY_LENGTH} printable ASCII characters "
                         "(e.g. the output of: openssl rand -base64 32)")
    return Secret(value)


def parse_token(raw: str) -> Secret:
    value = raw.strip()
    if value and (len(value) < MIN_TOKEN_LENGTH or not value.isascii() or not value.isprintable() or " " in value):
        raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without spaces")
    return Secret(value)


@dataclass(frozen=True, repr=False)
class Secret:
    """A secret string whose repr and str never show it; `.value` is read only where it is used."""

    value: str = ""

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return "Secret(***)" if self.value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Setting:
    env: str
    attr: str
    default: str
    parse: Callable[[str], Any]
    meaning: str
    secret: bool = False  # its value never appears in an error or a log
    empty_allowed: bool = False  # set but empty means "off", not "the default"


SETTINGS: tuple[Setting, ...] = (
    Setting("SFDEST_BACKEND", "backend", "memory", _choice(BACKENDS),
            "Record store: memory (in-process org per instance_url, forgets on exit) or salesforce (REST API)"),
    Setting("SFDEST_MEMORY_ACCEPT_CREDENTIALS", "memory_accept_credentials", "false", _bool,
            "With the memory backend, accept (and ignore) connections that carry Salesforce credentials; otherwise "
            "they get FAILED_PRECONDITION, since nothing would reach Salesforce"),
    Setting("SFDEST_MEMORY_MAX_ORGS", "memory_max_orgs", "16", _int(1),
            "Orgs the memory backend keeps; past it the least recently used org is forgotten"),
    Setting("SFDEST_MEMORY_MAX_RECORDS_PER_ORG", "memory_max_records_per_org", "50000", _int(1),
            "Records one memory-backend org holds; creates past it fail per event with 422 "
            "STORAGE_LIMIT_EXCEEDED, as a full Salesforce org answers"),
    Setting("SFDEST_LISTEN", "listen", "127.0.0.1:50051", _listen, "gRPC listen address HOST:PORT"),
    Setting("SFDEST_MAX_EVENTS", "max_events", "10000", _int(1),
            "Most events one Apply (or one ApplyStream message) may carry"),
    Setting("SFDEST_MAX_WORKERS", "max_workers", "16", _int(1),
            "Apply calls running at once; more wait their turn (up to half their deadline, 10 s at most), the "
            "least busy orgs first"),
    Setting("SFDEST_MAX_CONCURRENT_RPCS", "max_concurrent_rpcs", "64", _int(0),
            "RPCs in flight (health checks included) before new ones get RESOURCE_EXHAUSTED at once (0 = no limit)"),
    Setting("SFDEST_MAX_APPLIES_PER_ORG", "max_applies_per_org", "8", _int(0),
            "Applies in flight for one org (instance host) before more get RESOURCE_EXHAUSTED at once, so one "
            "tenant cannot take every worker (0 = no limit); at most three quarters of SFDEST_MAX_WORKERS (a higher "
            "value is lowered, with a warning at start)"),
    Setting("SFDEST_MAX_MESSAGE_MB", "max_message_mb", "16", _int(1),
            "Largest request or response, in MiB; a larger one gets RESOURCE_EXHAUSTED"),
    Setting("SFDEST_MAX_CONCURRENT_STREAMS", "max_concurrent_streams", "100", _int(1),
            "HTTP/2 streams one client connection may have open (grpc.max_concurrent_streams)"),
    Setting("SFDEST_KEEPALIVE_TIME_MS", "keepalive_time_ms", "60000", _int(1000),
            "Ping an idle client connection after this long to find dead peers (grpc.keepalive_time_ms)"),
    Setting("SFDEST_KEEPALIVE_TIMEOUT_MS", "keepalive_timeout_ms", "20000", _int(1000),
            "Close the connection when a ping gets no answer within this (grpc.keepalive_timeout_ms)"),
    Setting("SFDEST_KEEPALIVE_MIN_PING_INTERVAL_MS", "keepalive_min_ping_interval_ms", "30000", _int(0),
            "Client pings closer together than this are strikes "
            "(grpc.http2.min_recv_ping_interval_without_data_ms); clients should ping every 60 s or less often"),
    Setting("SFDEST_KEEPALIVE_MAX_PING_STRIKES", "keepalive_max_ping_strikes", "2", _int(0),
            "Strikes before the server sends GOAWAY too_many_pings (grpc.http2.max_ping_strikes; 0 = unlimited)"),
    Setting("SFDEST_KEEPALIVE_PERMIT_WITHOUT_CALLS", "keepalive_permit_without_calls", "true", _bool,
            "Accept client keepalive pings on a connection with no call in flight "
            "(grpc.keepalive_permit_without_calls)"),
    Setting("SFDEST_MAX_CONNECTION_IDLE_MS", "max_connection_idle_ms", "300000", _int(0),
            "Close a connection with no call for this long (grpc.max_connection_idle_ms; 0 = never)"),
    Setting("SFDEST_MAX_CONNECTION_AGE_MS", "max_connection_age_ms", "1800000", _int(0),
            "Ask clients to reconnect after this long, so load spreads over new servers "
            "(grpc.max_connection_age_ms; 0 = never)"),
    Setting("SFDEST_MAX_CONNECTION_AGE_GRACE_MS", "max_connection_age_grace_ms", "300000", _int(0),
            "Time calls on a connection past its age get to finish (grpc.max_connection_age_grace_ms)"),
    Setting("SFDEST_DRAIN_SECONDS", "drain_seconds", "0", _seconds,
            "On SIGTERM/SIGINT, time health reports NOT_SERVING while calls are still accepted, so load balancers "
            "notice (set it to their health-check period)"),
    Setting("SFDEST_GRACE_SECONDS", "grace_seconds", "10", _seconds,
            "Then, time in-flight RPCs get to finish while new ones are refused; the rest are cancelled"),
    Setting("SFDEST_DEADLINE_MARGIN_SECONDS", "deadline_margin_seconds", "0.25", _seconds,
            "Time kept back from the caller's deadline to build and send the response (plus the fraction below)"),
    Setting("SFDEST_DEADLINE_MARGIN_FRACTION", "deadline_margin_fraction", "0.1", _fraction,
            "Share of the caller's remaining time also kept back; writes not started by then come back 504 "
            "NOT_ATTEMPTED, retryable"),
    Setting("SFDEST_MAX_CALL_SECONDS", "max_call_seconds", "600", _seconds,
            "Longest an Apply, ApplyStream or Validate without a caller deadline may work (Salesforce's own call "
            "limit is 10 "
            "minutes); writes not started by then come back 504 NOT_ATTEMPTED (0 = no limit)"),
    Setting("SFDEST_TLS_CERT_FILE", "tls_cert_file", "", _path,
            "PEM server certificate chain; with SFDEST_TLS_KEY_FILE, serve TLS only (empty = plaintext)"),
    Setting("SFDEST_TLS_KEY_FILE", "tls_key_file", "", _path, "PEM private key of the server certificate"),
    Setting("SFDEST_TLS_CLIENT_CA_FILE", "tls_client_ca_file", "", _path,
            "PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)"),
    Setting("SFDEST_AUTH_TOKEN", "auth_token", "", parse_token,
            f"Bearer token every call must carry (authorization: Bearer ...; health checks exempt; "
            f">= {MIN_TOKEN_LENGTH} chars)", secret=True),
    Setting("SFDEST_AUTH_TOKEN_FILE", "auth_token_file", "", _path,
            "File holding the bearer token (instead of SFDEST_AUTH_TOKEN), re-read when it changes, so a rotated "
            "token takes effect without a restart"),
    Setting("SFDEST_AUTH_TOKENS_FILE", "auth_tokens_file", "", _path,
            "JSON file of bearer tokens, each with the instance URLs it may reach (see Authentication); a call for "
            "another org gets PERMISSION_DENIED; re-read when it changes"),
    Setting("SFDEST_COORDINATION", "coordination", "local", _coordination,
            "Where replicas share leases on the records an upsert may create: local (one replica) or a Redis URL "
            "(redis://HOST:PORT/DB, rediss:// for TLS) every replica of a deployment points at", secret=True),
    Setting("SFDEST_COORDINATION_TIMEOUT_SECONDS", "coordination_timeout_seconds", "2", _seconds,
            "Longest one Redis command may take; past it the events that needed it answer 503 "
            "COORDINATION_UNAVAILABLE, retryable, with nothing written"),
    Setting("SFDEST_IDEMPOTENCY_WINDOW_SECONDS", "idempotency_window_seconds", "86400", _int(0),
            "With a Redis SFDEST_COORDINATION: an event id applied with the same action within this window answers "
            "its recorded result without writing again, on any replica (0 = off)"),
    Setting("SFDEST_ORDERING_RETENTION_SECONDS", "ordering_retention_seconds", "2592000", _int(1),
            "Actions with newest_event_wins: how long the stamp of a record's newest event is kept after its last "
            "write, in Redis (or in the process with local coordination), about 150 bytes per record; an older event "
            "arriving later than this is written. Lower it to the longest a host may deliver an event late, to save "
            "memory; raise it when hosts replay older backlogs"),
    Setting("SFDEST_SHARED_CALLS_PER_ORG", "shared_calls_per_org", "0", _int(0),
            "With a Redis SFDEST_COORDINATION: Salesforce requests in flight to one org across all replicas "
            "(Salesforce allows 25 concurrent calls of 20 s or more per org); more wait their turn (0 = no cap)"),
    Setting("SFDEST_BULK_LEASE_SECONDS", "bulk_lease_seconds", "15", _seconds,
            "How long a replica's hold on a running Bulk API job lasts between renewals (it renews while polling): "
            "when the replica dies, a retry of the job's events on another replica takes the job over after this"),
    Setting("SFDEST_STATE_KEY", "state_key", "", _state_key,
            "With a Redis SFDEST_COORDINATION: the key (32+ characters, the same on every replica) that seals "
            "access tokens and the rows of running Bulk API jobs in Redis (AES-256-GCM), so replicas share one token "
            "per org and a retry on any replica picks up a job; empty = each replica requests its own tokens, no "
            "job is handed over, and none of these is stored in Redis", secret=True),
    Setting("SFDEST_METRICS_LISTEN", "metrics_listen", "", _optional_listen,
            "Prometheus /metrics HOST:PORT, plain HTTP, e.g. 127.0.0.1:9464 (empty or off = no metrics endpoint; off "
            "by default, so servers on one host never clash; port 0 picks a free one, logged as metrics_port)",
            empty_allowed=True),
    Setting("SFDEST_LOG_LEVEL", "log_level", "INFO", _choice(LOG_LEVELS, str.upper),
            "Log level; logs are JSON lines on stderr, one per call at INFO"),
    Setting("SFDEST_REFLECTION", "reflection", "true", _bool,
            "Serve gRPC reflection, v1 and v1alpha (for grpcurl, grpcui, Postman)"),
    Setting("SFDEST_SALESFORCE_API_VERSION", "salesforce_api_version", "v62.0", str.strip,
            "REST API version when a connection names none (salesforce backend)"),
    Setting("SFDEST_SALESFORCE_TIMEOUT_SECONDS", "salesforce_timeout_seconds", "30", _seconds,
            "HTTP timeout of one Salesforce request (salesforce backend)"),
    Setting("SFDEST_SALESFORCE_ALLOW_LOOPBACK_HTTP", "salesforce_allow_loopback_http", "false", _bool,
            "Accept http://127.0.0.1 instance URLs, for the Salesforce emulator only (salesforce backend)"),
    Setting("SFDEST_API_BUDGET_SHARE", "api_budget_share", "1", _share,
            "Share of each org's daily API allowance sfdest may spend (salesforce backend); past it, events get "
            "429 RATE_LIMITED, retryable after retry_after, before any call is made; with a Redis SFDEST_COORDINATION "
            "the replicas share it (2 Redis round trips per call)"),
    Setting("SFDEST_API_BUDGET_RESERVE", "api_budget_reserve", "0", _fraction,
            "Share of each org's daily API allowance sfdest never reaches into, counting every integration's "
            "calls as Salesforce reports them (salesforce backend); with a share of 1, 0 = no governor"),
    Setting("SFDEST_WRITE_PATH", "write_path", "auto", _choice(WRITE_PATHS),
            "How writes go to Salesforce (salesforce backend): auto (from 10,000 records a write takes Composite or "
            "a Bulk API 2.0 job, whichever spends the smaller share of the org's remaining API calls and "
            "DailyBulkApiBatches; below, Composite), composite (five collections of 200 a call), collections (one "
            "collection a call, no Composite), or bulk (a Bulk API 2.0 job for every write that can take one); "
            "ApplyResponse.write_path says which was used"),
    Setting("SFDEST_BULK_FROM", "bulk_from", "0", _int(0),
            "Records of one write from which a Bulk API 2.0 job is weighed (auto) or used (bulk) (salesforce "
            "backend); 0 = the path's own: 10,000 with auto, 1 with bulk"),
    Setting("SFDEST_SALESFORCE_BATCH_SIZE", "salesforce_batch_size", "200", _int(1),
            "Records in one sObject Collections request, at most 200 (salesforce backend); a Composite call "
            "carries five; smaller for orgs whose triggers cannot take 200 at once"),
)


@dataclass(frozen=True)
class Settings:
    backend: str = "memory"
    memory_accept_credentials: bool = False
    memory_max_orgs: int = 16
    memory_max_records_per_org: int = 50_000
    listen: str = "127.0.0.1:50051"
    max_events: int = 10_000
    max_workers: int = 16
    max_concurrent_rpcs: int = 64
    max_applies_per_org: int = 8
    max_message_mb: int = 16
    max_concurrent_streams: int = 100
    keepalive_time_ms: int = 60_000
    keepalive_timeout_ms: int = 20_000
    keepalive_min_ping_interval_ms: int = 30_000
    keepalive_max_ping_strikes: int = 2
    keepalive_permit_without_calls: bool = True
    max_connection_idle_ms: int = 300_000
    max_connection_age_ms: int = 1_800_000
    max_connection_age_grace_ms: int = 300_000
    drain_seconds: float = 0.0
    grace_seconds: float = 10.0
    deadline_margin_seconds: float = 0.25
    deadline_margin_fraction: float = 0.1
    max_call_seconds: float = 600.0
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    auth_token: Secret = Secret()
    auth_token_file: str = ""
    auth_tokens_file: str = ""
    coordination: Secret = Secret()
    coordination_timeout_seconds: float = 2.0
    idempotency_window_seconds: int = 86_400
    ordering_retention_seconds: int = 2_592_000
    shared_calls_per_org: int = 0
    bulk_lease_seconds: float = 15.0
    state_key: Secret = Secret()
    metrics_listen: str = ""
    log_level: str = "INFO"
    reflection: bool = True
    salesforce_api_version: str = "v62.0"
    salesforce_timeout_seconds: float = 30.0
    salesforce_allow_loopback_http: bool = False
    api_budget_share: float = 1.0
    api_budget_reserve: float = 0.0
    write_path: str = "auto"
    bulk_from: int = 0
    salesforce_batch_size: int = 200

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
            if not raw.strip() and not (s.empty_allowed and s.env in source):
                raw = s.default
            try:
                values[s.attr] = s.parse(raw)
            except ValueError as exc:
                shown = "" if s.secret else f"={raw!r}"
                raise ConfigError(f"{s.env}{shown}: {exc}") from None
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that only make sense together."""
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("SFDEST_TLS_CERT_FILE and SFDEST_TLS_KEY_FILE: set both (TLS) or neither (plaintext)")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ConfigError("SFDEST_TLS_CLIENT_CA_FILE: mutual TLS needs SFDEST_TLS_CERT_FILE and "
                              "SFDEST_TLS_KEY_FILE too")
        if self.state_key and not self.coordination:
            raise ConfigError("SFDEST_STATE_KEY: set it with a Redis SFDEST_COORDINATION (it seals what replicas "
                              "share there), or leave it empty")
        if self.auth_token and self.auth_token_file:
            raise ConfigError("SFDEST_AUTH_TOKEN and SFDEST_AUTH_TOKEN_FILE: set one, not both")

    def public(self) -> dict[str, Any]:
        """Every setting by variable name, secrets masked: safe to log."""
        return {s.env: ("***" if getattr(self, s.attr) else "") if s.secret else getattr(self, s.attr)
                for s in SETTINGS}


def settings_table() -> str:
    """The documented settings as a plain-text table: name, default, meaning."""
    rows = [("Variable", "Default", "Meaning")] + [(s.env, s.default, s.meaning) for s in SETTINGS]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows)


def settings_markdown() -> str:
    """The same table in Markdown, for the README."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        meaning = s.meaning.replace("|", "\\|")
        rows.append(f"| `{s.env}` | {default} | {meaning} |")
    return "\n".join(rows)
