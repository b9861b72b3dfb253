"""A thread-local setting that holds while a block runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def scoped(local: threading.local, name: str, value: Any) -> Iterator[None]:
    """Set `local.<name>` to `value` for this thread while the block runs, then put back what it was."""
    previous = getattr(local, name, None)
    setattr(local, name, value)
    try:
        yield
    finally:
        setattr(local, name, previous)
