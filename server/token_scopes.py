"""Bearer tokens scoped to orgs: SFDEST_AUTH_TOKENS_FILE maps each caller's token to the instance URLs it may reach.

    {"tokens": [{"name": "cdp-eu", "token": "<at least 16 characters>",
                 "instance_urls": ["https://acme.my.salesforce.com", "https://beta.my.salesforce.com"]}]}

"*" among a token's instance_urls lets it reach any org. Names label callers in errors and logs; tokens never show.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from server.config import ConfigError, Secret, parse_token

ENV = "SFDEST_AUTH_TOKENS_FILE"
ANY_ORG = "*"


def origin(instance_url: str) -> str:
    """`https://Acme.my.salesforce.com/` -> `https://acme.my.salesforce.com`: what a scope compares."""
    text = instance_url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text.lower()
    if not parts.scheme or not parts.netloc:
        return text.lower().rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


@dataclass(frozen=True)
class ScopedToken:
    name: str
    token: Secret
    origins: frozenset[str]  # ANY_ORG among them: every org

    def allows(self, instance_url: str) -> bool:
        return ANY_ORG in self.origins or origin(instance_url) in self.origins


@dataclass(frozen=True)
class ScopedTokens:
    entries: tuple[ScopedToken, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(self, presented: str) -> ScopedToken | None:
        """The entry whose token equals `presented`, compared in constant time against every entry."""
        found = None
        for entry in self.entries:
            if hmac.compare_digest(presented.encode(), entry.token.value.encode()):
                found = entry
        return found


def _entry(raw: object, i: int, where: str) -> ScopedToken:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: tokens[{i}] must be an object with token and instance_urls")
    name = raw.get("name") or f"tokens[{i}]"
    value = raw.get("token")
    try:
        token = parse_token(value if isinstance(value, str) else "")
    except ValueError as exc:
        raise ConfigError(f"{where}: tokens[{i}] ({name}): the token {exc}") from None
    if not token:
        raise ConfigError(f"{where}: tokens[{i}] ({name}): a token is required")
    urls = raw.get("instance_urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.strip() for u in urls):
        raise ConfigError(f"{where}: tokens[{i}] ({name}): instance_urls must be a non-empty list of URLs "
                          f"(or \"{ANY_ORG}\" for every org)")
    return ScopedToken(str(name), token, frozenset(ANY_ORG if u.strip() == ANY_ORG else origin(u) for u in urls))


def parse(data: bytes, path: str) -> ScopedTokens:
    """The scoped tokens a file holds; ConfigError names the file and the entry, never a token."""
    where = f"{ENV}={path!r}"
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"{where}: not a JSON document") from None
    raw = document.get("tokens") if isinstance(document, dict) else None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f'{where}: expected {{"tokens": [{{"name", "token", "instance_urls"}}, ...]}}')
    entries = tuple(_entry(item, i, where) for i, item in enumerate(raw))
    _refuse_duplicates(entries, where)
    return ScopedTokens(entries)


def _refuse_duplicates(entries: Iterable[ScopedToken], where: str) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.token.value in seen:
            raise ConfigError(f"{where}: {entry.name} and {seen[entry.token.value]} share a token")
        seen[entry.token.value] = entry.name
