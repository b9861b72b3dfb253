"""The telemetry port: what adapters report about Salesforce calls, retries and API usage (no secrets, ever)."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

# The call kinds adapters report; a metric label, so keep the set small and fixed. Retries of rows
# refused for a row lock inside a collection write are reported with the kind "write".
CALL_KINDS = ("auth", "describe", "query", "create", "update", "upsert", "delete", "bulk", "limits")


class Telemetry(Protocol):
    """Receives counts only: kinds, reasons and org hosts, never tokens, URLs with queries, or record values."""

    def salesforce_call(self, kind: str) -> None:
        """One request sent to Salesforce (one of CALL_KINDS)."""
        ...

    def salesforce_retry(self, kind: str, reason: str) -> None:
        """A request of `kind` is being retried because of `reason` (an error code such as UNABLE_TO_LOCK_ROW)."""
        ...

    def api_usage(self, org: str, used: int, limit: int) -> None:
        """The org's daily API usage as Salesforce last reported it; `org` comes from org_label()."""
        ...

    def api_budget(self, org: str, used: int, reserved: int, refused: int) -> None:
        """The API budget governor's counters of the org: calls sfdest used in the window, reserved now, and
        refused so far."""
        ...

    def write_path(self, org: str, path: str, reason: str) -> None:
        """A write went to the org by `path` (core.write_paths: bulk, composite, collections) for `reason`
        (one of core.write_paths.REASONS)."""
        ...


class NullTelemetry:
    """Telemetry that goes nowhere: the default of every backend."""

    def salesforce_call(self, kind: str) -> None:
        pass

    def salesforce_retry(self, kind: str, reason: str) -> None:
        pass

    def api_usage(self, org: str, used: int, limit: int) -> None:
        pass

    def api_budget(self, org: str, used: int, reserved: int, refused: int) -> None:
        pass

    def write_path(self, org: str, path: str, reason: str) -> None:
        pass


def org_label(instance_url: str) -> str:
    """The host of an instance URL, lower-cased: all a metric may say about an org (no path, query or userinfo)."""
    try:
        host = urlsplit((instance_url or "").strip()).hostname
    except ValueError:
        host = None
    return host or "unknown"
