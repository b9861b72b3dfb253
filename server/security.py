"""TLS and mutual TLS credentials from certificate files, and the bearer token from the environment or a file."""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import grpc

from server import token_scopes
from server.config import ConfigError, Secret, Settings, parse_token

log = logging.getLogger("sfdest")
_BEARER = "bearer "
T = TypeVar("T")


def _read(env: str, path: str) -> bytes:
    """A file's bytes; the error names the variable and the path, never the contents."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{env}={path!r}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    if not data.strip():
        raise ConfigError(f"{env}={path!r}: the file is empty")
    return data


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials when a certificate is configured (mutual TLS with a client CA), else None (plaintext)."""
    if not settings.tls_cert_file:
        return None
    chain = _read("SFDEST_TLS_CERT_FILE", settings.tls_cert_file)
    key = _read("SFDEST_TLS_KEY_FILE", settings.tls_key_file)
    client_ca = _read("SFDEST_TLS_CLIENT_CA_FILE", settings.tls_client_ca_file) if settings.tls_client_ca_file \
        else None
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca,
                                       require_client_auth=client_ca is not None)


def _token_from_file(path: str) -> Secret:
    raw = _read("SFDEST_AUTH_TOKEN_FILE", path)
    try:
        return parse_token(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ConfigError(f"SFDEST_AUTH_TOKEN_FILE={path!r}: the token {reason}") from None


class WatchedFile(Generic[T]):
    """A value loaded from the file `env` names, re-read when the file changes (mtime or size), so a rotated secret
    takes effect without a restart; a new version that does not load keeps the old value."""

    def __init__(self, env: str, path: str, load: Callable[[str], T]):
        self._env, self._path, self._load = env, path, load
        self._value = load(path)
        self._stamp = self._stat()
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self._path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def __call__(self) -> T:
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._value = self._load(self._path)
                        log.info("%s reloaded", self._env)
                    except ConfigError:
                        log.warning("%s changed but does not load: keeping the previous version", self._env)
                    self._stamp = stamp
        return self._value


class TokenSource:
    """The expected bearer token; one from SFDEST_AUTH_TOKEN_FILE is re-read when the file changes."""

    def __init__(self, settings: Settings):
        self._token = settings.auth_token
        self._file = WatchedFile("SFDEST_AUTH_TOKEN_FILE", settings.auth_token_file, _token_from_file) \
            if settings.auth_token_file else None

    def __call__(self) -> Secret:
        return self._file() if self._file is not None else self._token


def scoped_tokens(settings: Settings) -> Callable[[], token_scopes.ScopedTokens] | None:
    """The tokens of SFDEST_AUTH_TOKENS_FILE, each limited to its orgs, re-read when the file changes (None: unset)."""
    if not settings.auth_tokens_file:
        return None
    return WatchedFile(token_scopes.ENV, settings.auth_tokens_file,
                       lambda path: token_scopes.parse(_read(token_scopes.ENV, path), path))


def presented_bearer(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    """The token of the call's `authorization: Bearer <token>`, or None."""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            if value[:len(_BEARER)].lower() != _BEARER:
                return None
            return value[len(_BEARER):].strip()
    return None


def bearer_matches(metadata: tuple[tuple[str, str | bytes], ...] | None, expected: Secret) -> bool:
    """Whether the call's `authorization: Bearer <token>` equals the expected token, compared in constant time."""
    presented = presented_bearer(metadata)
    return presented is not None and hmac.compare_digest(presented.encode(), expected.value.encode())
