"""Instance and token URLs: a token is only ever sent to a Salesforce host (or loopback, for the emulator)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from core import outcomes
from core.codes import Code
from core.model import Connection
from core.paths import CONNECTION, Path
from core.ports import BackendError

# Registrable Salesforce domains; a host is accepted when it is a subdomain of one of them.
SALESFORCE_DOMAINS = (
    "salesforce.com",  # instances, My Domain (*.my.salesforce.com, *.sandbox.my.salesforce.com)
    "force.com",
    "cloudforce.com",
    "salesforce-sites.com",
    "salesforce.mil",  # government cloud (*.my.salesforce.mil)
    "crmforce.mil",
)
LOGIN_HOST = "login.salesforce.com"
TEST_HOST = "test.salesforce.com"
GENERIC_LOGIN_HOSTS = frozenset({LOGIN_HOST, TEST_HOST})
_MY_DOMAIN_SUFFIXES = (".my.salesforce.com", ".my.salesforce.mil")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)


def _refuse(message: str, field: Path) -> BackendError:
    return BackendError(outcomes.error(Code.INVALID_INSTANCE_URL, message, paths=(field,)))


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_salesforce_host(host: str) -> bool:
    """True when `host` is a subdomain of a Salesforce domain, compared label by label."""
    labels = host.split(".")
    if not labels or not all(_LABEL.fullmatch(label) for label in labels):
        return False
    return any(host.endswith("." + domain) for domain in SALESFORCE_DOMAINS)


def host_of(base_url: str) -> str:
    return urlsplit(base_url).hostname or ""


def is_my_domain(base_url: str) -> bool:
    return host_of(base_url).endswith(_MY_DOMAIN_SUFFIXES)


def is_generic_login(base_url: str) -> bool:
    return host_of(base_url) in GENERIC_LOGIN_HOSTS


def validate_base_url(
    url: str, *, allow_loopback_http: bool = False, field: Path = CONNECTION.field("instance_url"),
    login_host_ok: bool = False,
) -> str:
    """The canonical `scheme://host[:port]` of `url`, or BackendError(INVALID_INSTANCE_URL) saying why not."""
    if not isinstance(url, str) or not url.strip():
        raise _refuse(f"{field} is empty; set it to the org's URL, e.g. https://acme.my.salesforce.com", field)
    if any(ord(ch) <= 0x20 or ord(ch) >= 0x7F or ch == "\\" for ch in url):
        raise _refuse(f"{field} holds whitespace, control, non-ASCII or backslash characters", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(f"{field} is not a valid URL", field) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if "@" in parts.netloc:
        raise _refuse(f"{field} must not carry a user name or password", field)
    if not host:
        raise _refuse(f"{field} has no host; expected e.g. https://acme.my.salesforce.com", field)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _refuse(f"{field} must be just scheme and host (no path, query or fragment)", field)
    if allow_loopback_http and is_loopback_host(host):
        if scheme not in ("http", "https"):
            raise _refuse(f"{field} must use http or https", field)
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")
    if scheme != "https":
        raise _refuse(f"{field} must use https (plain http is allowed only to loopback with the emulator)", field)
    if port not in (None, 443):
        raise _refuse(f"{field} must not name a port other than 443", field)
    if not is_salesforce_host(host):
        raise _refuse(
            f"{field} host {host!r} is not a Salesforce host (it must end with one of "
            + ", ".join("." + d for d in SALESFORCE_DOMAINS) + ")",
            field,
        )
    if host in GENERIC_LOGIN_HOSTS and not login_host_ok:
        raise _refuse(
            f"{field} is the login host {host}, not the org's instance; use the org's My Domain URL "
            "(e.g. https://acme.my.salesforce.com)",
            field,
        )
    return f"https://{host}"


def validate_instance_url(url: str, allow_loopback_http: bool = False) -> str:
    return validate_base_url(url, allow_loopback_http=allow_loopback_http)


def token_base_url(connection: Connection, instance_base: str, allow_loopback_http: bool = False) -> str:
    """Where tokens are requested: login_host if set, else the emulator itself, else login or test."""
    if connection.login_host:
        login = connection.login_host.strip()
        if "://" not in login:
            login = "https://" + login
        return validate_base_url(
            login, allow_loopback_http=allow_loopback_http, field=CONNECTION.field("login_host"), login_host_ok=True
        )
    if allow_loopback_http and is_loopback_host(host_of(instance_base)):
        return instance_base
    return f"https://{TEST_HOST if connection.is_sandbox else LOGIN_HOST}"
