"""GET /query?q=: evaluate a parsed SOQL query over the shared Org, paging 2,000 rows behind a cursor."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from adapters.memory.field_facts import TEXT_TYPES
from adapters.memory.ids import IdFactory
from adapters.memory.results import OrgError, unknown_object_in_query
from core.describe import FieldDescribe
from tools.emulator import equality
from tools.emulator.equality import ID_FIELD_TYPES, NUMBER_TYPES
from tools.emulator.soql import BoolOp, Comparison, Not, Query, SoqlError
from tools.emulator.soql_parser import parse
from tools.emulator.wire import ApiError, Reply

if TYPE_CHECKING:
    from tools.emulator.routes import Call
    from tools.emulator.server import Emulator

PAGE_SIZE = 2000
MAX_CURSORS = 1000
# The literal kinds a field type accepts, and the type name Salesforce's message uses.
_NUMBER_NAMES = {"int": "integer", "long": "long"}


def _accepts(f: FieldDescribe) -> tuple[set[str], str, bool]:
    if f.type in NUMBER_TYPES:
        return {"number"}, _NUMBER_NAMES.get(f.type, "double"), False
    if f.type == "boolean":
        return {"boolean"}, "boolean", False
    if f.type == "date":
        return {"date"}, "date", False
    if f.type == "datetime":
        return {"datetime"}, "dateTime", False
    return {"string"}, "id" if f.type in ID_FIELD_TYPES else "string", True


class Cursors:
    """Server-side query cursors: locator -> the full result, paged by offset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = IdFactory()
        self._results: OrderedDict[str, tuple[list[dict[str, Any]], int]] = OrderedDict()

    def open(self, records: list[dict[str, Any]], page: int) -> str:
        locator = self._ids.new_id("01g")
        with self._lock:
            self._results[equality.record_id(locator) or locator] = (records, page)
            while len(self._results) > MAX_CURSORS:
                self._results.popitem(last=False)
        return locator

    def get(self, locator: str) -> tuple[list[dict[str, Any]], int] | None:
        with self._lock:
            return self._results.get(equality.record_id(locator) or locator)


class _Evaluator:
    def __init__(self, emu: Emulator, q: Query):
        self.org, self.q, self.locale = emu.org, q, emu.locale
        self.fields: dict[int, FieldDescribe] = {}
        self.keys: dict[int, frozenset[Any]] = {}  # the equality keys of each =/IN list, computed once per query

    def fail(self, code: str, pos: int, text: str) -> SoqlError:
        return SoqlError(code, self.q.soql, pos, text)

    def field(self, name: str, pos: int, filtering: bool = False) -> FieldDescribe:
        try:
            return self.org.query_field(self.q.object_name, name, filtering=filtering)
        except OrgError as exc:
            raise self.fail(exc.code, pos, exc.message) from None

    def check(self, node: Any) -> None:
        """Resolve every WHERE field and check each literal's type, before any row is read."""
        if isinstance(node, BoolOp):
            for item in node.items:
                self.check(item)
        elif isinstance(node, Not):
            self.check(node.item)
        elif isinstance(node, Comparison):
            f = self.field(node.field, node.pos, filtering=True)
            self.fields[id(node)] = f
            kinds, type_name, quoted = _accepts(f)
            if node.op == "LIKE" and f.type not in TEXT_TYPES:
                raise self.fail("INVALID_FIELD", node.pos, f"invalid operator on field '{f.name}' of type {f.type}")
            for lit in node.values:
                if lit.kind != "null" and lit.kind not in kinds:
                    should = "should be" if quoted else "should not be"
                    raise self.fail("INVALID_FIELD", lit.pos, f"value of filter criterion for field '{f.name}' must "
                                    f"be of type {type_name} and {should} enclosed in quotes")
                if f.type in ID_FIELD_TYPES and lit.kind == "string" and equality.record_id(lit.value) is None:
                    raise self.fail("INVALID_QUERY_FILTER_OPERATOR", lit.pos, f"invalid ID field: {lit.value}")
            self.keys[id(node)] = frozenset(equality.key(lit.value, f, self.locale) for lit in node.values)

    def matches(self, node: Any, row: Any) -> bool:
        if isinstance(node, BoolOp):
            items = (self.matches(item, row) for item in node.items)
            return all(items) if node.op == "AND" else any(items)
        if isinstance(node, Not):
            return not self.matches(node.item, row)
        f = self.fields[id(node)]
        value = row.get(f.name)
        if node.op in ("=", "!=", "IN", "NOT IN"):
            hit = equality.key(value, f, self.locale) in self.keys[id(node)]
            return hit if node.op in ("=", "IN") else not hit
        if node.op == "LIKE":
            return equality.like(node.values[0].like, value, self.locale)
        return equality.ordered(node.op, value, node.values[0].value, f, self.locale)


def _sort(rows: list[dict[str, Any]], order: list[tuple[FieldDescribe, bool, bool]], locale: str) -> None:
    for f, desc, nulls_last in reversed(order):
        present = [r for r in rows if r.get(f.name) is not None]
        absent = [r for r in rows if r.get(f.name) is None]
        present.sort(key=lambda r, f=f: equality.key(r.get(f.name), f, locale), reverse=desc)
        rows[:] = present + absent if nulls_last else absent + present


def evaluate(emu: Emulator, q: Query, version: str, include_deleted: bool = False) -> list[dict[str, Any]]:
    """The query's records in the REST shape (attributes first, then the selected fields)."""
    ev = _Evaluator(emu, q)
    try:
        obj = emu.org.describe(q.object_name)
    except OrgError:
        raise ev.fail("INVALID_TYPE", q.object_pos, unknown_object_in_query(q.object_name).message) from None
    selected = [ev.field(name, pos).name for name, pos in q.fields]
    order = [(ev.field(name, pos), desc, last) for name, desc, last, pos in q.order_by]
    if q.where is not None:
        ev.check(q.where)
    wanted = list(dict.fromkeys(selected + [f.name for f, _, _ in order]))
    rows = emu.org.select(obj.name, lambda row: q.where is None or ev.matches(q.where, row), wanted,
                          include_deleted=include_deleted)
    _sort(rows, order, emu.locale)
    rows = rows[q.offset:]
    if q.limit is not None:
        rows = rows[:q.limit]
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return [{"attributes": {"type": obj.name, "url": f"{base}/{row['Id']}"}, **{n: row.get(n) for n in
                                                                                 dict.fromkeys(selected)}}
            for row in rows]


def _page(call: Call, locator: str, records: list[dict[str, Any]], offset: int, size: int) -> dict[str, Any]:
    chunk = records[offset:offset + size]
    body: dict[str, Any] = {"totalSize": len(records), "done": offset + size >= len(records)}
    if not body["done"]:
        body["nextRecordsUrl"] = f"{call.base}/query/{locator}-{offset + size}"
    body["records"] = chunk
    return body


def _batch_size(call: Call) -> int:
    m = re.search(r"batchSize\s*=\s*(\d+)", call.req.header("sforce-query-options"))
    return min(max(int(m.group(1)), 200), PAGE_SIZE) if m else PAGE_SIZE


def run(emu: Emulator, call: Call) -> Reply:
    soql = call.req.param("q")
    if not soql:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    q = parse(soql)
    emu.record_query(q)
    # queryAll also returns the recycle bin (deleted and merged-away records, with IsDeleted true)
    records = evaluate(emu, q, call.version, include_deleted=call.local_path.startswith("/queryAll"))
    if q.count_only:
        return Reply.json(200, {"totalSize": len(records), "done": True, "records": []})
    size = _batch_size(call)
    locator = emu.cursors.open(records, size) if len(records) > size else ""
    return Reply.json(200, _page(call, locator, records, 0, size))


def more(emu: Emulator, call: Call) -> Reply:
    locator, _, offset = call.params["locator"].rpartition("-")
    found = emu.cursors.get(locator) if offset.isdigit() else None
    if found is None or int(offset) >= len(found[0]):
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    records, size = found
    return Reply.json(200, _page(call, locator, records, int(offset), size))
