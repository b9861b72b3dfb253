"""SOQL: the one escaper, typed literals, and lookups rendered into URL-sized queries."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

from core import outcomes
from core.codes import Code
from core.describe import ObjectDescribe
from core.names import api_name_problem
from core.ports import BackendError, Lookup
from core.typed_values import MAX_STRING_LITERAL, CoercionError, TypedValue, typed

URI_LIMIT_BYTES = 16_384
DEFAULT_MAX_URL_BYTES = 16_000
# Characters left unencoded in the `q=` value: legal in a query string, meaning nothing special to a form decoder.
QUERY_SAFE = "(),'=*:"

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_MAX_EXPONENT = 40  # far beyond any Salesforce number field; keeps rendered literals short
_NUMBER_TEXT = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)


def _bad_value(field: str, why: str) -> BackendError:
    return BackendError(outcomes.error(Code.MATCHER_VALUE_INVALID, f"a value for {field} {why}", (field,)))


def check_name(name: str, what: str = "field") -> str:
    """`name` if it is a strict API name; BackendError (INVALID_FIELD / INVALID_TYPE) otherwise."""
    problem = api_name_problem(name) if isinstance(name, str) else "must be a string"
    if problem:
        code = Code.INVALID_TYPE if what == "object" else Code.INVALID_FIELD
        shown = repr(name)[:90] if isinstance(name, str) else type(name).__name__
        raise BackendError(outcomes.error(code, f"{what} name {shown} {problem}", (str(name)[:80],)))
    return name


def escape(text: str) -> str:
    """The body of a SOQL string literal for `text` (backslash escapes; control characters as \\uXXXX)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError("holds a lone surrogate, which has no UTF-8 form")
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def quote(text: str, field: str = "value") -> str:
    """A quoted, escaped SOQL string literal."""
    if len(text) > MAX_STRING_LITERAL:
        raise _bad_value(field, f"is longer than {MAX_STRING_LITERAL} characters, SOQL's limit for a string literal")
    try:
        return "'" + escape(text) + "'"
    except ValueError as exc:
        raise _bad_value(field, str(exc)) from None


def _number(number: Decimal, field: str) -> str:
    exponent = number.as_tuple().exponent
    if number and exponent != 0 and abs(number.adjusted()) > _MAX_EXPONENT:  # a whole number is as long as given
        raise _bad_value(field, "is out of range for a Salesforce number")
    text = format(number, "f")
    if not _NUMBER_TEXT.fullmatch(text):
        raise _bad_value(field, "must be a plain decimal number")
    return text


def render(value: TypedValue, field: str = "value") -> str:
    """A typed value as a SOQL literal."""
    v = value.value
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return _number(v, field)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, date):
        return v.isoformat()
    if value.type == "time":
        return v
    return quote(v, field)


def literal(value: Any, field_type: str | None, field: str = "value") -> str:
    """`value` as a SOQL literal for a field of describe type `field_type` (None: by the value's type); a
    datetime without an offset is read as UTC."""
    try:
        return render(typed(value, field_type), field)
    except CoercionError as exc:
        raise _bad_value(field, str(exc)) from None


def encode_q(soql: str) -> str:
    """The percent-encoded form of `soql` as the value of `q=` (what the URL carries)."""
    return quote_plus(soql, safe=QUERY_SAFE)


def query_url(url_prefix: str, soql: str) -> str:
    return url_prefix + encode_q(soql)


def _cost(text: str) -> int:
    return len(encode_q(text))


class _Term:
    """One `field IN (values)` with rendered values; one value renders as `field = value`."""

    def __init__(self, field: str, values: list[str]):
        self.field, self.values = field, values

    def render(self) -> str:
        if len(self.values) == 1:
            return f"{self.field} = {self.values[0]}"
        return f"{self.field} IN ({','.join(self.values)})"


def _render_conjunction(terms: Sequence[_Term]) -> str:
    return "(" + " AND ".join(t.render() for t in terms) + ")"


class _Planner:
    """Packs conjunctions into queries whose URL stays within the byte budget."""

    def __init__(self, head: str, avail: int):
        self.head, self.avail = head, avail

    def fit(self, terms: list[_Term]) -> Iterator[str]:
        text = _render_conjunction(terms)
        if _cost(text) <= self.avail:
            yield text
            return
        idx = max(range(len(terms)), key=lambda i: len(terms[i].values))
        term = terms[idx]
        if len(term.values) == 1:
            raise BackendError(outcomes.error(
                Code.MATCHER_VALUE_INVALID,
                "one lookup condition is too long for a single query URL; use shorter matcher values",
                tuple(t.field for t in terms)))
        others = [t for i, t in enumerate(terms) if i != idx]
        fixed = _cost(_render_conjunction([*others, _Term(term.field, ["", ""])])) - _cost(",")
        room = self.avail - fixed
        chunk: list[str] = []
        used = 0
        for value in term.values:
            extra = _cost(value) + (_cost(",") if chunk else 0)
            if chunk and used + extra > room:
                yield from self.fit([*terms[:idx], _Term(term.field, chunk), *terms[idx + 1:]])
                chunk, used = [], 0
                extra = _cost(value)
            chunk.append(value)
            used += extra
        yield from self.fit([*terms[:idx], _Term(term.field, chunk), *terms[idx + 1:]])

    def pack(self, disjuncts: Sequence[str]) -> list[str]:
        queries: list[str] = []
        current: list[str] = []
        used = 0
        for d in disjuncts:
            extra = _cost(d) + (_cost(" OR ") if current else 0)
            if current and used + extra > self.avail:
                queries.append(self.head + " OR ".join(current))
                current, used = [], 0
                extra = _cost(d)
            current.append(d)
            used += extra
        if current:
            queries.append(self.head + " OR ".join(current))
        return queries


def lookup_queries(
    lookup: Lookup,
    describe: ObjectDescribe | None,
    url_prefix: str,
    max_url_bytes: int = DEFAULT_MAX_URL_BYTES,
    field_type: Callable[[str], str | None] | None = None,
) -> list[str]:
    """SOQL queries that together return every record matching `lookup`, each URL within `max_url_bytes`.

    `url_prefix` is the URL up to and including `q=`. Names are checked before anything is rendered.
    """
    check_name(lookup.object_name, "object")
    select: dict[str, str] = {"id": "Id"}
    for name in lookup.select:
        select.setdefault(check_name(name).lower(), name)
    for conjunction in lookup.where:
        for term in conjunction:
            check_name(term.field)

    def type_of(name: str) -> str | None:
        if field_type is not None:
            return field_type(name)
        f = describe.field(name) if describe else None
        return f.type if f else None

    # Every name was checked by check_name above; values only ever enter through literal().
    head = f"SELECT {', '.join(select.values())} FROM {lookup.object_name} WHERE "  # noqa: S608
    avail = max_url_bytes - len(url_prefix.encode()) - _cost(head)
    if avail <= 0:
        raise BackendError(outcomes.error(Code.MATCHER_VALUE_INVALID, "the lookup's SELECT list alone exceeds the URL "
                                       "budget", tuple(select.values())))
    planner = _Planner(head, avail)
    disjuncts: list[str] = []
    for conjunction in lookup.where:
        variants: list[list[_Term]] = [[]]
        for term in conjunction:
            rendered = list(dict.fromkeys(literal(v, type_of(term.field), term.field) for v in term.values))
            if not rendered:
                variants = []
                break
            # `IN (null, ...)` is not SOQL: a null becomes its own `field = null` branch.
            options = [[v for v in rendered if v != "null"], ["null"] if "null" in rendered else []]
            variants = [[*prefix, _Term(term.field, option)] for prefix in variants for option in options if option]
        for terms in variants:
            if terms:
                disjuncts.extend(planner.fit(terms))
    return planner.pack(list(dict.fromkeys(disjuncts)))
