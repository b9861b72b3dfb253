"""Cells of Bulk API result CSVs as the org renders what it stored: Java doubles, true/false, UTC instants."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from core.describe import FieldDescribe

# Successful rows echo each uploaded column with the value as stored, not the uploaded text. The Bulk
# API 2.0 Developer Guide's insert example (Quick Start, Step 3) uploads Account AnnualRevenue 912260031
# and NumberOfEmployees 2676 and gets back "9.12260031E8" and "2676": currency and double values go
# through Java's Double.toString, integers print plainly.
_DOUBLES = frozenset({"double", "currency", "percent"})


def java_double(value: float) -> str:
    """Java's Double.toString: plain between 10^-3 and 10^7 (always a fractional digit), else d.dddEn."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    shortest = Decimal(repr(abs(value)))  # the shortest digits that read back as this double
    if 1e-3 <= abs(value) < 1e7:
        text = format(shortest, "f")
        return sign + (text if "." in text else text + ".0")
    digits = "".join(map(str, shortest.as_tuple().digits)).rstrip("0") or "0"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{shortest.adjusted()}"


def stored_cell(f: FieldDescribe | None, value: Any) -> str:
    """How a successful result row shows a stored value: "" for null."""
    if value is None:
        return ""
    kind = f.type if f is not None else "string"
    if isinstance(value, bool) or kind == "boolean":
        return "true" if value is True or str(value).lower() == "true" else "false"
    if kind in _DOUBLES and isinstance(value, (int, float)):
        return java_double(float(value))
    if kind in ("int", "long") and isinstance(value, (int, float)):
        return str(int(value))
    if kind == "datetime" and isinstance(value, str) and value.endswith("+0000"):
        return value[:-5] + "Z"  # 2024-01-02T03:04:05.000Z, as result CSVs and query results write it
    return str(value)
