"""Resolving value sources against an event: paths, fallbacks and literals."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.model import ValueSource


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d{1,9}\])*)")


def path_problem(path: str) -> str | None:
    """Why `path` is not a usable event path (`traits.email`, `$.traits.emails[0]`), or None."""
    body = path[2:] if path.startswith("$.") else path
    if not body:
        return "must not be empty"
    for part in body.split("."):
        if not _SEGMENT.fullmatch(part):
            return f"has an empty or malformed segment in {path[:80]!r}"
    return None


def _walk(payload: Any, path: str) -> Any:
    body = path[2:] if path.startswith("$.") else path
    node = payload
    for part in body.split("."):
        m = _SEGMENT.fullmatch(part)
        if m is None or not isinstance(node, Mapping) or m.group(1) not in node:
            return MISSING
        node = node[m.group(1)]
        for index in re.findall(r"\[(\d+)\]", m.group(2)):
            if not isinstance(node, list) or int(index) >= len(node):
                return MISSING
            node = node[int(index)]
    return node


def resolve(source: ValueSource, payload: Mapping[str, Any]) -> Any:
    """The first present, non-null value of the source's paths.

    Returns None when the only values found are explicit nulls (a null clears a field), and
    MISSING when no path is present at all (an absent value is never written).
    """
    if source.is_literal:
        return source.literal
    saw_null = False
    for path in source.paths:
        value = _walk(payload, path)
        if value is MISSING:
            continue
        if value is None:
            saw_null = True
            continue
        return value
    return None if saw_null else MISSING
