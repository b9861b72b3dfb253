"""Values are typed once in core; the REST form (coercion) and the SOQL literal render the same typed value."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapters.salesforce import soql
from core.coercion import coerce
from core.describe import FieldDescribe
from core.ports import BackendError
from core.typed_values import MAX_STRING_LITERAL, CoercionError, TypedValue, typed


@pytest.mark.parametrize(("raw", "kind", "value", "rest", "literal"), [
    ("12.50", "currency", Decimal("12.50"), 12.5, "12.50"),
    ("42", "int", Decimal("42"), 42, "42"),
    ("TRUE", "boolean", True, True, "true"),
    ("2024-06-30", "date", date(2024, 6, 30), "2024-06-30", "2024-06-30"),
    ("2024-05-20T22:49:32.250+02:00", "datetime", datetime(2024, 5, 20, 20, 49, 32, 250000, tzinfo=UTC),
     "2024-05-20T20:49:32.250Z", "2024-05-20T20:49:32Z"),
    ("00QHs00000LmNoP", "id", "00QHs00000LmNoPMAV", "00QHs00000LmNoPMAV", "'00QHs00000LmNoPMAV'"),
    (42, "string", "42", "42", "'42'"),
])
def test_one_typing_two_renderings(raw, kind, value, rest, literal):
    assert typed(raw, kind) == TypedValue(kind, value)
    assert coerce(raw, FieldDescribe(name="F", type=kind)) == rest
    assert soql.render(typed(raw, kind)) == soql.literal(raw, kind) == literal


@pytest.mark.parametrize(("raw", "kind"), [("x", "double"), (True, "int"), ("maybe", "boolean"),
                                           ("2024-13-45", "date"), ("001", "reference")])
def test_both_refuse_what_the_type_refuses_with_the_same_rule(raw, kind):
    with pytest.raises(CoercionError) as typed_error:
        typed(raw, kind)
    with pytest.raises(BackendError) as soql_error:
        soql.literal(raw, kind, "F")
    assert str(typed_error.value) in soql_error.value.error.message


def test_one_limit_for_a_string_literal():
    assert soql.quote("x" * MAX_STRING_LITERAL) == "'" + "x" * MAX_STRING_LITERAL + "'"
    with pytest.raises(BackendError):
        soql.quote("x" * (MAX_STRING_LITERAL + 1))
