"""A small reference SOQL reader for tests: literal decoding and the WHERE shapes the adapter generates."""

from __future__ import annotations

import re

_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


class SoqlSyntaxError(ValueError):
    pass


def read_string(text: str, start: int) -> tuple[str, int]:
    """Decode the quoted literal starting at text[start] == "'"; returns (value, index after the closing quote)."""
    if text[start] != "'":
        raise SoqlSyntaxError(f"expected a quote at {start}")
    out, i = [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "'":
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                raise SoqlSyntaxError("dangling backslash")
            esc = text[i + 1]
            if esc.lower() in _SIMPLE:
                out.append(_SIMPLE[esc.lower()])
                i += 2
            elif esc in ("u", "U"):
                digits = text[i + 2:i + 6]
                if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                    raise SoqlSyntaxError("bad \\u escape")
                out.append(chr(int(digits, 16)))
                i += 6
            else:
                raise SoqlSyntaxError(f"unknown escape \\{esc}")
            continue
        if ord(ch) < 0x20:
            raise SoqlSyntaxError("raw control character inside a literal")
        out.append(ch)
        i += 1
    raise SoqlSyntaxError("unterminated literal")


def decode_literal(literal: str) -> str:
    value, end = read_string(literal, 0)
    if end != len(literal):
        raise SoqlSyntaxError("text after the closing quote")
    return value


_TOKEN = re.compile(r"\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>-?\d+(?:\.\d+)?(?:-\d\d-\d\d(?:T[\d:]+Z)?)?)"
                    r"|(?P<punct>[(),=]))")


def tokens(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    i = 0
    while i < len(text):
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text):
            break
        if text[i] == "'":
            value, i = read_string(text, i)
            out.append(("str", value))
            continue
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            raise SoqlSyntaxError(f"unexpected character at {i}: {text[i]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        i = m.end()
    return out


def parse_lookup(soql: str) -> tuple[str, list[str], list[dict[str, list[object]]]]:
    """(object, select list, disjuncts as {field: [values]}) of `SELECT a, b FROM O WHERE (..) OR (..)`."""
    toks = tokens(soql)
    pos = 0

    def take(kind: str | None = None, value: object = None) -> object:
        nonlocal pos
        if pos >= len(toks):
            raise SoqlSyntaxError("unexpected end")
        k, v = toks[pos]
        if (kind and k != kind) or (value is not None and (str(v).upper() != str(value).upper())):
            raise SoqlSyntaxError(f"expected {kind} {value}, got {k} {v}")
        pos += 1
        return v

    take("word", "SELECT")
    select = [str(take("word"))]
    while toks[pos] == ("punct", ","):
        take("punct")
        select.append(str(take("word")))
    take("word", "FROM")
    obj = str(take("word"))
    take("word", "WHERE")
    disjuncts: list[dict[str, list[object]]] = []
    while True:
        take("punct", "(")
        terms: dict[str, list[object]] = {}
        while True:
            name = str(take("word"))
            if toks[pos] == ("punct", "="):
                take("punct")
                terms[name] = [_value(toks[pos])]
                pos += 1
            else:
                take("word", "IN")
                take("punct", "(")
                values = [_value(toks[pos])]
                pos += 1
                while toks[pos] == ("punct", ","):
                    pos += 1
                    values.append(_value(toks[pos]))
                    pos += 1
                take("punct", ")")
                terms[name] = values
            if toks[pos] == ("punct", ")"):
                break
            take("word", "AND")
        take("punct", ")")
        disjuncts.append(terms)
        if pos == len(toks):
            return obj, select, disjuncts
        take("word", "OR")


def _value(token: tuple[str, object]) -> object:
    kind, value = token
    if kind == "str":
        return value
    if kind == "num":
        return value
    if kind == "word" and str(value).lower() in ("true", "false", "null"):
        return str(value).lower()
    raise SoqlSyntaxError(f"not a value: {token}")
