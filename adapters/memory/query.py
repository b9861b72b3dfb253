"""Evaluating a lookup (an OR of ANDs of `field IN values`) over one table, with SOQL's rules and errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from adapters.memory.field_facts import TEXT_TYPES
from adapters.memory.record_rules import saved_form
from adapters.memory.results import OrgError, not_filterable, unknown_column_in_query
from adapters.memory.table import Table
from core.describe import FieldDescribe, ObjectDescribe
from core.names import normalize_id
from core.ports import Conjunction

# One conjunction, resolved: each field with the match keys of its allowed values.
_Terms = list[tuple[FieldDescribe, set[Any]]]


def column(obj: ObjectDescribe, name: str, filtering: bool = False) -> FieldDescribe:
    """The field a query names; INVALID_FIELD when unknown, or in a WHERE when not filterable."""
    f = obj.field(name)
    if f is None:
        raise unknown_column_in_query(name, obj.name)
    if filtering and not f.filterable:
        raise not_filterable(f.name)
    return f


def select_names(obj: ObjectDescribe, fields: Iterable[str]) -> list[str]:
    """The selected fields in describe case, Id first, each once."""
    names = ["Id"]
    for name in fields:
        f = column(obj, name)
        if f.name not in names:
            names.append(f.name)
    return names


def project(row: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: row.get(name) for name in names}


def filter_key(table: Table, f: FieldDescribe, value: Any) -> Any:
    """The match key of a WHERE value; a malformed id against an id field is a query error, as in SOQL.

    A text literal is compared as written: with leading or trailing whitespace it equals no stored
    value, since Salesforce saves text trimmed.
    """
    if f.type in ("id", "reference") and value not in (None, "") and normalize_id(str(value)) is None:
        raise OrgError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}")
    if isinstance(value, str) and f.type in TEXT_TYPES and saved_form(value, f) != value:
        return ("untrimmed literal", value)
    return table.key(value, f)


def _resolved(table: Table, where: Sequence[Conjunction]) -> list[_Terms]:
    obj = table.describe
    return [[(f, {filter_key(table, f, v) for v in term.values}) for term in conj
             for f in (column(obj, term.field, True),)] for conj in where]


def matching_rows(table: Table, where: Sequence[Conjunction]) -> list[dict[str, Any]]:
    """Rows satisfying any conjunction, in creation order; every row when `where` is empty."""
    resolved = _resolved(table, where)
    if not resolved:
        return list(table.rows())
    ids: set[str] = set()
    for terms in resolved:
        ids |= _conjunction_ids(table, terms)
    return table.in_order(ids)


def matching_among(table: Table, where: Sequence[Conjunction], rows: Iterable[dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    """Those of `rows` (records not in the table: the recycle bin) satisfying any conjunction."""
    resolved = _resolved(table, where)
    return [row for row in rows if not resolved or any(
        all(table.key(row.get(f.name), f) in keys for f, keys in terms) for terms in resolved)]


def _conjunction_ids(table: Table, terms: _Terms) -> set[str]:
    # Narrow by an indexed term when there is one (keys such as Email or an external id), else scan.
    indexed = next(((f, keys) for f, keys in terms if table.is_indexed(f.name) and None not in keys), None)
    if indexed is not None:
        f, keys = indexed
        candidates: Iterable[Mapping[str, Any]] = [table.get(i) or {} for k in keys for i in table.ids_with_key(f, k)]
    else:
        candidates = table.rows()
    return {row["Id"] for row in candidates
            if row and all(table.key(row.get(f.name), f) in keys for f, keys in terms)}
