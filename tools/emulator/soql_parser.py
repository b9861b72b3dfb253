"""The SOQL parser: tokens to a Query, refusing what Salesforce refuses (e.g. AND mixed with OR unbracketed)."""

from __future__ import annotations

from typing import Any

from tools.emulator.soql import BoolOp, Comparison, Literal, Not, Query, SoqlError, Token, tokenize

_OPS = {"=", "!=", "<>", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, soql: str):
        self.soql = soql
        self.tokens = tokenize(soql)
        self.i = 0

    # helpers ---------------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self.tok
        if token.kind == "end":
            return SoqlError("MALFORMED_QUERY", self.soql, max(len(self.soql) - 1, 0), "unexpected token: <EOF>")
        return SoqlError("MALFORMED_QUERY", self.soql, token.pos, f"unexpected token: '{token.text}'")

    def expect_kw(self, word: str) -> Token:
        if not self.is_kw(word):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, text: str) -> Token:
        if self.tok.kind != "punct" or self.tok.text != text:
            raise self.unexpected()
        return self.advance()

    def ident(self) -> Token:
        if self.tok.kind != "ident":
            raise self.unexpected()
        return self.advance()

    # grammar ---------------------------------------------------------------------------------------
    def query(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[tuple[str, int]] = []
        count_only = False
        if self.tok.kind == "ident" and self.tok.text.upper() == "COUNT" and self.tokens[self.i + 1].text == "(":
            self.advance()
            self.advance()
            self.expect_punct(")")
            count_only = True
        else:
            while True:
                token = self.ident()
                fields.append((token.text, token.pos))
                if self.tok.text != ",":
                    break
                self.advance()
        self.expect_kw("FROM")
        obj = self.ident()
        q = Query(self.soql, obj.text, obj.pos, fields, count_only)
        if self.is_kw("WHERE"):
            self.advance()
            q.where = self.condition()
        if self.is_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            q.order_by = self.order_by()
        if self.is_kw("LIMIT"):
            self.advance()
            q.limit = self.integer()
        if self.is_kw("OFFSET"):
            self.advance()
            q.offset = self.integer()
        if self.tok.kind != "end":
            raise self.unexpected()
        return q

    def integer(self) -> int:
        token = self.advance()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)

    def order_by(self) -> list[tuple[str, bool, bool, int]]:
        out = []
        while True:
            token = self.ident()
            desc = False
            if self.is_kw("ASC", "DESC"):
                desc = self.advance().value == "DESC"
            nulls_last = desc
            if self.is_kw("NULLS"):
                self.advance()
                if not self.is_kw("FIRST", "LAST"):
                    raise self.unexpected()
                nulls_last = self.advance().value == "LAST"
            out.append((token.text, desc, nulls_last, token.pos))
            if self.tok.text != ",":
                return out
            self.advance()

    def condition(self) -> Any:
        first = self.unary()
        if not self.is_kw("AND", "OR"):
            return first
        op = self.tok.value
        items = [first]
        while self.is_kw(op):
            self.advance()
            items.append(self.unary())
        if self.is_kw("AND", "OR"):  # SOQL demands parentheses when AND and OR are mixed
            raise self.unexpected()
        return BoolOp(op, tuple(items))

    def unary(self) -> Any:
        if self.is_kw("NOT"):
            self.advance()
            return Not(self.unary())
        if self.tok.text == "(" and self.tok.kind == "punct":
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        name = self.ident()
        if self.is_kw("NOT") and self.tokens[self.i + 1].value == "IN":
            self.advance()
            self.advance()
            return Comparison(name.text, "NOT IN", self.value_list(), name.pos)
        if self.is_kw("IN"):
            self.advance()
            return Comparison(name.text, "IN", self.value_list(), name.pos)
        if self.is_kw("LIKE"):
            self.advance()
            token = self.advance()
            if token.kind != "string":
                raise self.unexpected(token)
            return Comparison(name.text, "LIKE", (Literal("string", token.value, token.pos, token.like),), name.pos)
        if self.tok.kind != "op" or self.tok.text not in _OPS:
            raise self.unexpected()
        op = self.advance().text
        return Comparison(name.text, "!=" if op == "<>" else op, (self.literal(),), name.pos)

    def value_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        values = [self.literal()]
        while self.tok.text == ",":
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.advance()
        if token.kind == "string":
            if token.like_escapes:  # \_ and \% are LIKE-only escapes
                bad = "\\_" if "\\_" in token.text else "\\%"
                raise SoqlError("MALFORMED_QUERY", self.soql, token.pos, f"Invalid string literal {token.text}. "
                                f"Illegal character sequence '{bad}' in string literal.")
            return Literal("string", token.value, token.pos)
        if token.kind in ("number", "date", "datetime"):
            return Literal(token.kind, token.value, token.pos)
        if token.kind == "keyword" and token.value in ("NULL", "TRUE", "FALSE"):
            kind = "null" if token.value == "NULL" else "boolean"
            return Literal(kind, None if kind == "null" else token.value == "TRUE", token.pos)
        raise self.unexpected(token)


def parse(soql: str) -> Query:
    """Parse `soql`; SoqlError (MALFORMED_QUERY with Salesforce's pointer message) when it is not valid."""
    return _Parser(soql).query()
