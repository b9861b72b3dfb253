"""Bulk result rows tied back to uploaded rows, comparing each cell as Salesforce stores that field's type."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from adapters.salesforce.bulk_csv import NULL, ResultRow, Table
from core.describe import DECIMAL_TYPES, ID_TYPES, INTEGER_TYPES, ObjectDescribe
from core.names import normalize_id

# Result CSVs echo values as stored, not as uploaded: the Bulk API 2.0 Developer Guide's insert example
# uploads AnnualRevenue 912260031 and gets "9.12260031E8" back (a currency printed as a Java double).
# So a cell is compared by what it means for its field's type: numbers by value (E-notation, a trailing
# .0), booleans by truth (true/TRUE/1), dates and datetimes by instant (2024-01-02T03:04:05.000Z equals
# 2024-01-02T03:04:05Z and +0000), ids in 15 or 18 characters, text trimmed; empty and #N/A are both
# "no value". Rows whose keys are equal are interchangeable: each result row takes one of them.
#
# Tiers, each over every result row still untied: (1) every cell equal by meaning; (2) the key column
# (Id or the external id) when it names one row still open; (3) every non-number cell equal up to letter
# case, and each number equal once the uploaded value is rounded to the places the org kept (a currency
# field of scale 2 stores 12.345 as 12.35). A row no tier ties stays untied: OUTCOME_UNKNOWN, never a guess.
_TRUE, _FALSE = frozenset({"true", "1", "yes", "y"}), frozenset({"false", "0", "no", "n"})
_INSTANT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
                      r"\s*(Z|[+-]\d{2}:?\d{2})?", re.I)
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*Z?", re.I)
_ANY = object()  # a number cell in a loose key: compared separately


def column_kind(describe: ObjectDescribe | None, column: str) -> str:
    f = describe.field(column) if describe is not None else None
    if f is None:
        return "text"  # unknown to describe, or a relationship path (Account__r.Ext__c)
    if f.type in DECIMAL_TYPES:
        return "double"
    if f.type in INTEGER_TYPES:
        return "integer"
    if f.type in ID_TYPES:
        return "id"
    return f.type if f.type in ("boolean", "date", "datetime", "time") else "text"


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _instant(text: str, with_time: bool) -> Any:
    m = _INSTANT.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        if not with_time:
            return datetime(int(year), int(month), int(day)).date() if hour in (None, "00") else None
        offset = timedelta()
        if zone and zone.upper() != "Z":
            digits = zone.replace(":", "")
            offset = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5])) * (-1 if digits[0] == "-" else 1)
        millis = int((fraction or "0")[:3].ljust(3, "0"))
        local = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                         millis * 1000, tzinfo=timezone(offset))
    except ValueError:
        return None
    return local.astimezone(UTC)


def _time(text: str) -> Any:
    m = _TIME.fullmatch(text)
    if m is None:
        return None
    hour, minute, second, fraction = m.groups()
    return int(hour), int(minute), int(second or 0), int((fraction or "0")[:3].ljust(3, "0"))


def meaning(kind: str, text: str) -> Any:
    """What a cell says for a field of this kind; None for no value. Unreadable text stands for itself."""
    text = text.strip()
    if text in ("", NULL):
        return None
    value: Any = None
    if kind in ("double", "integer"):
        number = _number(text)
        if number is not None:  # doubles compare as the double the org keeps
            value = Decimal(repr(float(number))).normalize() if kind == "double" else number.normalize()
    elif kind == "boolean":
        lowered = text.lower()
        value = True if lowered in _TRUE else False if lowered in _FALSE else None
    elif kind in ("date", "datetime"):
        value = _instant(text, kind == "datetime")
    elif kind == "time":
        value = _time(text)
    elif kind == "id":
        value = normalize_id(text)
    else:
        value = text.replace("\r\n", "\n")
    return ("raw", text) if value is None else value


def key_meaning(kind: str, text: str) -> Any:
    """What a key cell (Id, an external id) says, letter case aside: equal for the row uploaded and its echo."""
    value = meaning(kind, text)
    return value.casefold() if isinstance(value, str) else value


def _same_number(uploaded: str, echoed: str) -> bool:
    """The echoed number is the uploaded one, possibly rounded to the places the field keeps."""
    if meaning("text", uploaded) is None or meaning("text", echoed) is None:  # no value: "" or #N/A
        return meaning("text", uploaded) == meaning("text", echoed)
    u, e = _number(uploaded.strip()), _number(echoed.strip())
    if u is None or e is None:
        return uploaded.strip() == echoed.strip()
    if float(u) == float(e):
        return True
    exponent = e.normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # NaN or infinity: no decimal places to round to
        return False
    step = Decimal(1).scaleb(min(0, exponent))
    try:
        return any(u.quantize(step, rounding=r) == e for r in (ROUND_HALF_UP, ROUND_HALF_EVEN))
    except InvalidOperation:  # more digits than a Decimal context holds: no field keeps that many
        return False


class RowMatcher:
    """Ties result rows to the uploaded rows of one table; each uploaded row is taken at most once."""

    def __init__(self, table: Table, key_column: int | None, describe: ObjectDescribe | None):
        self._kinds = [column_kind(describe, h) for h in table.header]
        self._rows = table.rows
        self._free = set(range(len(table.rows)))
        self._key = key_column if table.header and key_column is not None else None
        self._exact: dict[tuple[Any, ...], deque[int]] = {}
        self._loose: dict[tuple[Any, ...], list[int]] = {}
        self._by_key: dict[Any, deque[int]] = {}
        self._untied: list[ResultRow] = []
        for n, row in enumerate(table.rows):
            self._exact.setdefault(self._exact_key(row), deque()).append(n)
            self._loose.setdefault(self._loose_key(row), []).append(n)
            key = self._key_of(row)
            if key is not None:
                self._by_key.setdefault(key, deque()).append(n)

    def _exact_key(self, cells: Sequence[str]) -> tuple[Any, ...]:
        return tuple(meaning(k, c) for k, c in zip(self._kinds, cells, strict=True))

    def _loose_key(self, cells: Sequence[str]) -> tuple[Any, ...]:
        out: list[Any] = []
        for kind, text in zip(self._kinds, cells, strict=True):
            value = meaning(kind, text)
            if kind in ("double", "integer"):
                value = _ANY
            elif kind == "boolean" and value is None:
                value = False  # an unset checkbox is stored false
            elif isinstance(value, str):
                value = value.casefold()
            out.append(value)
        return tuple(out)

    def _key_of(self, cells: Sequence[str]) -> Any:
        if self._key is None:
            return None
        return key_meaning(self._kinds[self._key], cells[self._key])

    def _pop(self, queue: deque[int] | None) -> int | None:
        while queue:
            n = queue.popleft()
            if n in self._free:
                self._free.discard(n)
                return n
        return None

    def _by_exact(self, row: ResultRow) -> int | None:
        return self._pop(self._exact.get(self._exact_key(row.cells)))

    def _by_key_column(self, row: ResultRow) -> int | None:
        key = self._key_of(row.cells)
        candidates = self._by_key.get(key) if key is not None else None
        if candidates is None or len([n for n in candidates if n in self._free]) != 1:
            return None
        return self._pop(candidates)

    def _by_rounding(self, row: ResultRow) -> int | None:
        numbers = [i for i, k in enumerate(self._kinds) if k in ("double", "integer")]
        for n in self._loose.get(self._loose_key(row.cells), ()):
            if n in self._free and all(_same_number(self._rows[n][i], row.cells[i]) for i in numbers):
                self._free.discard(n)
                return n
        return None

    def tie(self, rows: Sequence[ResultRow]) -> list[tuple[int, ResultRow]]:
        """(uploaded row, result row) for every row tied now; rows left untied are tried again next time."""
        pending = [*self._untied, *rows]
        tied: list[tuple[int, ResultRow]] = []
        for tier in (self._by_exact, self._by_key_column, self._by_rounding):
            left = []
            for row in pending:
                n = tier(row)
                if n is None:
                    left.append(row)
                else:
                    tied.append((n, row))
            pending = left
        self._untied = pending
        return tied
