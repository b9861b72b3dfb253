"""Salesforce OAuth credentials as frozen values whose repr never shows a secret."""

from __future__ import annotations

from dataclasses import dataclass, fields

_MASK = "***"


def _masked_repr(obj: object, secret: frozenset[str]) -> str:
    parts = []
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        shown = (_MASK if value else "''") if f.name in secret else repr(value)
        parts.append(f"{f.name}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"


@dataclass(frozen=True, repr=False)
class OAuthRefreshToken:
    """The web-server flow's refresh token, with the access token the host already holds, if any."""

    client_id: str
    client_secret: str
    refresh_token: str
    access_token: str = ""

    def __repr__(self) -> str:
        return _masked_repr(self, frozenset({"client_secret", "refresh_token", "access_token"}))


@dataclass(frozen=True, repr=False)
class ClientCredentials:
    """The server-to-server flow (My Domain token host only)."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return _masked_repr(self, frozenset({"client_secret"}))


@dataclass(frozen=True, repr=False)
class JwtBearer:
    """An RS256 assertion signed with the connected app's private key."""

    client_id: str
    username: str
    private_key_pem: str

    def __repr__(self) -> str:
        return _masked_repr(self, frozenset({"private_key_pem"}))


@dataclass(frozen=True, repr=False)
class UsernamePassword:
    """The legacy password flow; the security token is appended to the password."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str = ""

    def __repr__(self) -> str:
        return _masked_repr(self, frozenset({"client_secret", "password", "security_token"}))


Credentials = OAuthRefreshToken | ClientCredentials | JwtBearer | UsernamePassword
