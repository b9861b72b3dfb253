"""Record ids shaped like Salesforce's: key prefix, base-62 body, case-safe checksum suffix."""

from __future__ import annotations

import random
import threading

from core.names import to_18

# Salesforce's base-62 digit order: digits, then upper case, then lower case.
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Real ids carry a pod/instance marker after the key prefix (e.g. 00QHs...); any two characters do.
POD = "Hs"
_COUNTER_WIDTH = 10  # 3 prefix + 2 pod + 10 counter = 15 characters


def base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    if number:
        raise OverflowError(f"{width} base-62 digits cannot hold the value")
    return "".join(reversed(digits))


class IdFactory:
    """Hands out unique 18-character ids; safe to share between threads.

    The counter starts at a random offset so that two orgs (tenants) rarely share an id, which
    keeps a test that mixes up tenants from passing by accident.
    """

    def __init__(self, start: int | None = None):
        self._lock = threading.Lock()
        self._next = random.randrange(62**8) if start is None else start

    def new_id(self, key_prefix: str) -> str:
        if len(key_prefix) != 3:
            raise ValueError(f"a key prefix has 3 characters, not {key_prefix!r}")
        with self._lock:
            number = self._next
            self._next += 1
        return to_18(key_prefix + POD + base62(number, _COUNTER_WIDTH))
