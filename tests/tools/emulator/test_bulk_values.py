"""Bulk result cells as the org renders stored values: Java's Double.toString for doubles and currency."""

from __future__ import annotations

import pytest

from core.describe import FieldDescribe
from tools.emulator.bulk_values import java_double, stored_cell


@pytest.mark.parametrize("value,text", [
    (912260031.0, "9.12260031E8"), (71664061.0, "7.1664061E7"), (2676.0, "2676.0"), (2.5, "2.5"),
    (1e7, "1.0E7"), (9999999.0, "9999999.0"), (0.001, "0.001"), (0.0001, "1.0E-4"), (-1234.5, "-1234.5"),
    (-12345678.9, "-1.23456789E7"), (0.0, "0.0"), (1.5e17, "1.5E17"), (123456789.123456789, "1.2345678912345679E8"),
])
def test_doubles_are_written_as_java_writes_them(value, text):
    assert java_double(value) == text


@pytest.mark.parametrize("type_,value,text", [
    ("currency", 912260031, "9.12260031E8"), ("int", 2676, "2676"), ("boolean", True, "true"),
    ("boolean", False, "false"), ("date", "2024-01-02", "2024-01-02"),
    ("datetime", "2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05.000Z"), ("string", None, ""),
])
def test_stored_values_are_rendered_per_type(type_, value, text):
    assert stored_cell(FieldDescribe("F", type_), value) == text
