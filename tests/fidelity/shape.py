"""Compare a live answer with a recorded one: JSON shape recursively, protocol constants by value, CSV columns."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

# Keys whose values are protocol constants: they must be equal, not only of the same type.
CONSTANT_KEYS = frozenset({
    "errorCode", "statusCode", "success", "created", "state", "error", "done", "operation", "object",
    "contentType", "lineEnding", "columnDelimiter", "concurrencyMode", "jobType", "token_type",
})
ERROR_KEYS = ("errorCode", "statusCode")


def kind(value: Any) -> str:
    """The JSON type of a value (integers and floats are both numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_differences(recorded: Any, live: Any, path: str = "$", extra_allowed: Iterable[str] = ()) -> list[str]:
    """Where `live` differs from `recorded` in shape (key sets, value types) or in a protocol constant.

    `extra_allowed` names keys `live` may carry although the recording lacks them (a trimmed fixture).
    Lists of equal length compare element by element; otherwise every live element is compared with the
    first recorded one (a homogeneous list), and an empty list only matches an empty list.
    """
    allowed = frozenset(extra_allowed)
    out: list[str] = []
    if kind(recorded) != kind(live):
        return [f"{path}: recorded {kind(recorded)} {_short(recorded)}, live {kind(live)} {_short(live)}"]
    if isinstance(recorded, dict):
        missing = sorted(set(recorded) - set(live))
        extra = sorted(set(live) - set(recorded) - allowed)
        if missing:
            out.append(f"{path}: live lacks keys {missing}")
        if extra:
            out.append(f"{path}: live has extra keys {extra}")
        is_error = any(k in recorded for k in ERROR_KEYS)
        for key in recorded:
            if key not in live:
                continue
            sub = f"{path}.{key}"
            if key in CONSTANT_KEYS or (is_error and key == "fields"):
                if recorded[key] != live[key]:
                    out.append(f"{sub}: recorded {recorded[key]!r}, live {live[key]!r}")
                    continue
            out.extend(json_differences(recorded[key], live[key], sub, allowed))
    elif isinstance(recorded, list):
        if not recorded or not live:
            if bool(recorded) != bool(live):
                out.append(f"{path}: recorded {len(recorded)} elements, live {len(live)}")
            return out
        if len(recorded) == len(live):
            for n, (r, v) in enumerate(zip(recorded, live, strict=True)):
                out.extend(json_differences(r, v, f"{path}[{n}]", allowed))
        else:
            for n, v in enumerate(live):
                out.extend(json_differences(recorded[0], v, f"{path}[{n}]", allowed))
    return out


def subset_differences(recorded: Any, live: Any, path: str = "$") -> list[str]:
    """Every key of `recorded` is in `live` with the same type and, for scalars, the same value.

    Used for describe answers, where the recording keeps only the facts that matter (a field's flags);
    a list of objects having `name` is matched by name.
    """
    if isinstance(recorded, dict):
        if not isinstance(live, dict):
            return [f"{path}: live is {kind(live)}, not an object"]
        out = []
        for key, value in recorded.items():
            if key not in live:
                out.append(f"{path}: live lacks key {key!r}")
            else:
                out.extend(subset_differences(value, live[key], f"{path}.{key}"))
        return out
    if isinstance(recorded, list) and recorded and all(isinstance(r, dict) and "name" in r for r in recorded):
        if not isinstance(live, list):
            return [f"{path}: live is {kind(live)}, not an array"]
        by_name = {v.get("name"): v for v in live if isinstance(v, dict)}
        out = []
        for r in recorded:
            if r["name"] not in by_name:
                out.append(f"{path}: live has no element named {r['name']!r}")
            else:
                out.extend(subset_differences(r, by_name[r["name"]], f"{path}[{r['name']}]"))
        return out
    if recorded != live:
        return [f"{path}: recorded {recorded!r}, live {live!r}"]
    return []


def csv_rows(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


def csv_differences(recorded: str, live: str, constant_columns: Iterable[str] = ("sf__Created",)) -> list[str]:
    """Same header, same number of rows, and the same multiset of values in the constant columns
    (sf__Created, and the status code that starts each sf__Error)."""
    rec, liv = csv_rows(recorded), csv_rows(live)
    if not rec:
        return [] if not liv else ["recorded CSV is empty, live is not"]
    if not liv:
        return ["live CSV is empty"]
    out = []
    if rec[0] != liv[0]:
        out.append(f"header: recorded {rec[0]}, live {liv[0]}")
    if len(rec) != len(liv):
        out.append(f"rows: recorded {len(rec) - 1}, live {len(liv) - 1}")
    for column in (*constant_columns, "sf__Error"):
        if column in rec[0] and column in liv[0]:
            r, v = rec[0].index(column), liv[0].index(column)
            cut = _status_code if column == "sf__Error" else (lambda s: s)
            want = Counter(cut(row[r]) for row in rec[1:])
            if column == "sf__Error" and not all(_STATUS_CODE.fullmatch(code) for code in want):
                continue  # a fixture's placeholder text, not Salesforce's
            got = Counter(cut(row[v]) for row in liv[1:])
            if got != want:
                out.append(f"{column}: recorded {dict(want)}, live {dict(got)}")
    return out


_STATUS_CODE = re.compile(r"[A-Z][A-Z_]+")


def _status_code(error: str) -> str:
    """The status code that starts an sf__Error cell (`CODE:message:fields --`)."""
    return error.split(":", 1)[0]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
