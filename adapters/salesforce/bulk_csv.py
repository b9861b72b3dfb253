"""Bulk API 2.0 CSV: upload tables (RFC 4180, absent = empty cell, null = #N/A) and result parsing."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.codes import Code

NULL = "#N/A"  # Bulk's "set this field to null"; an empty cell means "leave it as it is"
_FIELD_LIST = re.compile(r"[A-Za-z0-9_.]+(\s*,\s*[A-Za-z0-9_.]+)*")


class DuplicateColumn(ValueError):
    """One record names the same field twice (in different letter cases)."""


def cell(value: Any) -> str:
    """The CSV text of one value. None and "" clear the field (as they do over REST): #N/A."""
    if value is None or value == "":
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        text = format(Decimal(repr(value)), "f")  # never exponent notation
        return text[:-2] if text.endswith(".0") else text
    return str(value)


@dataclass
class Table:
    """The columns of one job (key column first, each once) and one row of cells per record."""

    header: list[str]
    rows: list[tuple[str, ...]]

    def column(self, name: str) -> int | None:
        wanted = name.lower()
        return next((i for i, h in enumerate(self.header) if h.lower() == wanted), None)


def build_table(records: Sequence[Mapping[str, Any]], key: str = "") -> Table:
    """One table for records whose field sets may differ: a field a record lacks is an empty cell.

    Field names are deduplicated case-insensitively (first spelling wins). A record naming one field
    twice raises DuplicateColumn; the caller refuses that record before building.
    """
    positions: dict[str, int] = {}
    header: list[str] = []
    if key:
        positions[key.lower()] = 0
        header.append(key)
    for record in records:
        for name in record:
            if name.lower() not in positions:
                positions[name.lower()] = len(header)
                header.append(name)
    rows = []
    for record in records:
        cells = [""] * len(header)
        seen: set[int] = set()
        for name, value in record.items():
            i = positions[name.lower()]
            if i in seen:
                raise DuplicateColumn(name)
            seen.add(i)
            cells[i] = cell(value)
        rows.append(tuple(cells))
    return Table(header, rows)


def _quoted(text: str) -> str:
    if text in ("", NULL):
        return text
    return '"' + text.replace('"', '""') + '"'


def header_line(header: Sequence[str]) -> bytes:
    return (",".join(header) + "\n").encode()


def row_line(cells: Sequence[str]) -> bytes:
    """One CSV line (LF): every value quoted, empty cells and #N/A bare."""
    return (",".join(_quoted(c) for c in cells) + "\n").encode()


def render(header: Sequence[str], rows: Sequence[tuple[str, ...]], max_bytes: int) -> Iterator[bytes]:
    """CSV uploads (LF line endings), each at most max_bytes where a row allows, each with the header."""
    head = header_line(header)
    parts: list[bytes] = []
    size = len(head)
    for row in rows:
        line = row_line(row)
        if parts and size + len(line) > max_bytes:
            yield head + b"".join(parts)
            parts, size = [], len(head)
        parts.append(line)
        size += len(line)
    if parts:
        yield head + b"".join(parts)


@dataclass(frozen=True)
class ResultRow:
    """One row of a result CSV: which result it came from, its sf__ columns, and its cells in upload order."""

    kind: str  # successfulResults, failedResults or unprocessedrecords
    sf_id: str
    sf_flag: str  # sf__Created ("true"/"false") or sf__Error
    cells: tuple[str, ...]


def parse_results(text: str, header: Sequence[str], kind: str) -> list[ResultRow]:
    """Rows of successfulResults / failedResults (two sf__ columns first) or unprocessedrecords (none).

    Cells are put in the order of the uploaded `header`, by column name (any letter case); a result
    whose column names do not all match is read by position.
    """
    return list(iter_results(io.StringIO(text, newline=""), header, kind))


def iter_results(lines: Iterable[str], header: Sequence[str], kind: str) -> Iterator[ResultRow]:
    """parse_results over lines read one at a time (a result CSV is never held whole)."""
    sf_columns = 0 if kind == "unprocessedrecords" else 2
    width = len(header)
    reader = csv.reader(lines)
    first = next(reader, None)
    if first is None:
        return
    wanted = {name.lower(): i for i, name in enumerate(header)}
    names = [name.strip().lower() for name in first[sf_columns:]]
    order = [wanted.get(name) for name in names]
    by_name = len(order) == width and None not in order and len(set(order)) == width
    for row in reader:
        if not row:
            continue
        sf, values = row[:sf_columns], row[sf_columns:]
        cells = [""] * width
        for position, value in enumerate(values[:width] if not by_name else values):
            target = order[position] if by_name and position < len(order) else position
            if target is not None and target < width:
                cells[target] = value
        yield ResultRow(kind, sf[0] if sf_columns else "", sf[1] if sf_columns > 1 and len(sf) > 1 else "",
                        tuple(cells))


def parse_error(text: str) -> dict[str, Any]:
    """`STATUSCODE:message:fields --` as a collection error element {statusCode, message, fields}."""
    body = text.strip()
    has_fields = body.endswith("--")  # the fields part is present only before the closing "--"
    if has_fields:
        body = body[:-2].rstrip()
    code, _, rest = body.partition(":")
    message, fields = rest, []
    head, sep, tail = rest.rpartition(":")
    if has_fields and sep and (tail.strip() == "" or _FIELD_LIST.fullmatch(tail.strip())):
        message, fields = head, [f.strip() for f in tail.split(",") if f.strip()]
    return {"statusCode": code.strip() or Code.UNKNOWN_EXCEPTION.value, "message": message.strip(), "fields": fields}
