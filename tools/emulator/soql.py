"""A SOQL lexer and parser for the subset sfdest sends: SELECT fields FROM object [WHERE] [ORDER BY] [LIMIT]."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

_ESCAPES = {"n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t", "b": "\b", "B": "\b",
            "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\"}
_TOKEN = re.compile(r"""
  (?P<ws>\s+)
| (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]*(?:Z|[+-]\d{2}:?\d{2})?)
| (?P<date>\d{4}-\d{2}-\d{2})
| (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))
| (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
| (?P<op>!=|<>|<=|>=|=|<|>)
| (?P<punct>[(),])
""", re.VERBOSE)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:?\d{2})")
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS",
             "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "INCLUDES", "EXCLUDES"}


class SoqlError(Exception):
    """A query Salesforce would refuse: an error code and a message with the row/column pointer."""

    def __init__(self, code: str, soql: str, pos: int, text: str, status: int = 400):
        super().__init__(text)
        self.code, self.status = code, status
        self.message = pointer(soql, pos, text)


def pointer(soql: str, pos: int, text: str) -> str:
    """Salesforce's parser message: the offending line, a caret under the column, then the explanation."""
    before = soql[:pos]
    row = before.count("\n") + 1
    col = pos - (before.rfind("\n") + 1) + 1
    line = soql.split("\n")[row - 1]
    return f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{text}"


@dataclass(frozen=True)
class Token:
    kind: str  # ident, keyword, string, number, date, datetime, op, punct, end
    text: str
    pos: int
    value: Any = None
    like: tuple[tuple[str, str], ...] = ()  # string only: ("lit", text) | ("any", "") | ("one", "")
    like_escapes: bool = False


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, date, datetime, null, boolean
    value: Any
    pos: int
    like: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str  # = != < <= > >= IN "NOT IN" LIKE
    values: tuple[Literal, ...]
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


@dataclass
class Query:
    soql: str
    object_name: str
    object_pos: int
    fields: list[tuple[str, int]]
    count_only: bool = False
    where: Any = None
    order_by: list[tuple[str, bool, bool, int]] = field(default_factory=list)  # (field, desc, nulls_last, pos)
    limit: int | None = None
    offset: int = 0

    def comparisons(self) -> list[Comparison]:
        out: list[Comparison] = []

        def walk(node: Any) -> None:
            if isinstance(node, Comparison):
                out.append(node)
            elif isinstance(node, Not):
                walk(node.item)
            elif isinstance(node, BoolOp):
                for item in node.items:
                    walk(item)

        walk(self.where)
        return out

    @property
    def condition_count(self) -> int:
        """How many field comparisons the WHERE holds (an IN list is one)."""
        return len(self.comparisons())

    @property
    def values(self) -> list[Any]:
        """Every literal of the WHERE, decoded, in order."""
        return [lit.value for c in self.comparisons() for lit in c.values]


def _string(soql: str, start: int) -> Token:
    out: list[str] = []
    like: list[tuple[str, str]] = []
    escapes = False
    i = start + 1
    while i < len(soql):
        ch = soql[i]
        if ch == "'":
            return Token("string", soql[start:i + 1], start, "".join(out), tuple(like), escapes)
        if ch == "\\":
            nxt = soql[i + 1] if i + 1 < len(soql) else ""
            if nxt in _ESCAPES:
                decoded, i = _ESCAPES[nxt], i + 2
            elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", soql[i + 2:i + 6]):
                decoded, i = chr(int(soql[i + 2:i + 6], 16)), i + 6
            elif nxt in ("_", "%"):
                escapes = True
                out.append(nxt)
                like.append(("lit", nxt))
                i += 2
                continue
            else:
                end = soql.find("'", i + 2)
                literal = soql[start:end + 1] if end > 0 else soql[start:]
                raise SoqlError("MALFORMED_QUERY", soql, start, f"Invalid string literal {literal}. Illegal "
                                f"character sequence '\\{soql[i + 1:i + 2]}' in string literal.")
            out.append(decoded)
            like.append(("lit", decoded))
            continue
        out.append(ch)
        like.append(("any", "") if ch == "%" else ("one", "") if ch == "_" else ("lit", ch))
        i += 1
    raise SoqlError("MALFORMED_QUERY", soql, start, f"line 1:{start} mismatched character '<EOF>' expecting '''")


def tokenize(soql: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(soql):
        if soql[pos] == "'":
            token = _string(soql, pos)
            tokens.append(token)
            pos += len(token.text)
            continue
        m = _TOKEN.match(soql, pos)
        if m is None:
            raise SoqlError("MALFORMED_QUERY", soql, pos, f"unexpected token: '{soql[pos:].split()[0][:40]}'")
        kind, text = m.lastgroup or "", m.group()
        if kind == "datetime":
            try:
                value = datetime.fromisoformat(text).isoformat() if _DATETIME.fullmatch(text) else None
            except ValueError:
                value = None
            if value is None:
                raise SoqlError("MALFORMED_QUERY", soql, pos, f"line 1:{pos} no viable alternative at "
                                f"character '{text}'")
            tokens.append(Token(kind, text, pos, text))
        elif kind == "date":
            try:
                tokens.append(Token(kind, text, pos, date.fromisoformat(text).isoformat()))
            except ValueError:
                raise SoqlError("MALFORMED_QUERY", soql, pos, f"unexpected token: '{text}'") from None
        elif kind == "ident" and text.upper() in _KEYWORDS:
            tokens.append(Token("keyword", text, pos, text.upper()))
        elif kind != "ws":
            tokens.append(Token(kind, text, pos, text))
        pos = m.end()
    tokens.append(Token("end", "", len(soql)))
    return tokens
