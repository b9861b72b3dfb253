"""`python -m tests.server.faulty_server`: `sfdest serve` whose backend fails carelessly for marked instance URLs."""

from __future__ import annotations

import sys
from typing import Any

from server.app import serve
from server.config import Settings
from server.container import build_container
from server.logs import configure_logging

EXPLODE_ON_OPEN = "explode-open"
EXPLODE_ON_QUERY = "explode-query"


class _CarelessStore:
    def __init__(self, inner: Any):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def find(self, lookup: Any) -> Any:
        raise RuntimeError(f"query failed for {lookup.where!r}")


class CarelessBackend:
    """Fails with exception text quoting credentials and matcher values, as a careless library would."""

    def __init__(self, inner: Any):
        self._inner = inner

    def open(self, connection: Any, deadline: float | None = None, stop: Any = None) -> Any:
        if EXPLODE_ON_OPEN in connection.instance_url:
            raise RuntimeError(f"token request failed for {vars(connection.credentials)}")
        store = self._inner.open(connection, deadline, stop)
        return _CarelessStore(store) if EXPLODE_ON_QUERY in connection.instance_url else store


def main() -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    container = build_container(settings)
    container.backend.override(CarelessBackend(container.backend()))
    return serve(settings, container)


if __name__ == "__main__":
    sys.exit(main())
