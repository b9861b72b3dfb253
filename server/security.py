"""TLS and mutual TLS credentials from certificate files, and the bearer token from the environment or a file."""

from __future__ import annotations

import hmac
import logging
import os
import threading
from pathlib import Path

import grpc

from server.config import ConfigError, Secret, Settings, parse_token

log = logging.getLogger("sfdest")
_BEARER = "bearer "


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


def auth_token(settings: Settings) -> Secret:
    """The configured bearer token (empty Secret: no token check)."""
    if not settings.auth_token_file:
        return settings.auth_token
    return _token_from_file(settings.auth_token_file)


def _token_from_file(path: str) -> Secret:
    raw = _read("SFDEST_AUTH_TOKEN_FILE", path)
    try:
        return parse_token(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ConfigError(f"SFDEST_AUTH_TOKEN_FILE={path!r}: the token {reason}") from None


class TokenSource:
    """The expected bearer token; one from SFDEST_AUTH_TOKEN_FILE is re-read when the file changes, so a
    rotated token takes effect without a restart (an unreadable new file keeps the old token)."""

    def __init__(self, settings: Settings):
        self._path = settings.auth_token_file
        self._token = auth_token(settings)
        self._stamp = self._stat()
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, int] | None:
        if not self._path:
            return None
        try:
            info = os.stat(self._path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def __call__(self) -> Secret:
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._token = _token_from_file(self._path)
                        log.info("bearer token reloaded from SFDEST_AUTH_TOKEN_FILE")
                    except ConfigError:
                        log.warning("SFDEST_AUTH_TOKEN_FILE changed but holds no valid token: keeping the old one")
                    self._stamp = stamp
        return self._token


def bearer_matches(metadata: tuple[tuple[str, str | bytes], ...] | None, expected: Secret) -> bool:
    """Whether the call's `authorization: Bearer <token>` equals the expected token, compared in constant time."""
    presented = ""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            presented = value
            break
    if presented[:len(_BEARER)].lower() != _BEARER:
        return False
    return hmac.compare_digest(presented[len(_BEARER):].strip().encode(), expected.value.encode())
