"""A location in a request (the action, the connection, an event), built step by step and printed only at the
edge: `Path.root("action").field("field_mappings").index(3).field("field")` prints `action.field_mappings[3].field`.
"""

from __future__ import annotations

from dataclasses import dataclass

_FIELD, _INDEX, _ARGUMENT = "field", "index", "argument"


@dataclass(frozen=True)
class Path:
    """Immutable and hashable; each step returns a new path. The empty path prints as ""."""

    steps: tuple[tuple[str, str | int], ...] = ()

    @classmethod
    def root(cls, name: str) -> Path:
        return cls(((_FIELD, name),))

    def field(self, name: str) -> Path:
        return Path((*self.steps, (_FIELD, name)))

    def index(self, i: int) -> Path:
        return Path((*self.steps, (_INDEX, i)))

    def argument(self, value: str) -> Path:
        """A qualifier in parentheses, e.g. the preset's name in `action.preset(lead).FirstName`."""
        return Path((*self.steps, (_ARGUMENT, value)))

    def startswith(self, prefix: Path) -> bool:
        return self.steps[:len(prefix.steps)] == prefix.steps

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __str__(self) -> str:
        out = []
        for kind, value in self.steps:
            if kind == _INDEX:
                out.append(f"[{value}]")
            elif kind == _ARGUMENT:
                out.append(f"({value})")
            else:
                out.append(f".{value}" if out else str(value))
        return "".join(out)


NOWHERE = Path()
ACTION = Path.root("action")
CONNECTION = Path.root("connection")
FIELD_MAPPINGS = ACTION.field("field_mappings")
RECORD_MATCHERS = ACTION.field("record_matchers")
