"""The recorded exchanges under tests/fidelity/exchanges: loading, validating, and filling in placeholders."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent / "exchanges"
KINDS = ("recording", "captured fixture", "quoted log", "documented example")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Exchange:
    id: str
    kind: str
    provenance: dict[str, Any]
    request: dict[str, Any]
    response: dict[str, Any]
    setup: dict[str, Any]
    adapter: dict[str, Any] | None
    path: Path

    @property
    def area(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def is_token_call(self) -> bool:
        return self.request["path"].rstrip("/").endswith("/services/oauth2/token")


def _check(data: dict[str, Any], path: Path) -> None:
    expected_id = f"{path.parent.name}/{path.stem}"
    problems = []
    if data.get("id") != expected_id:
        problems.append(f"id must be {expected_id!r}")
    if data.get("kind") not in KINDS:
        problems.append(f"kind must be one of {KINDS}")
    prov = data.get("provenance") or {}
    if not (prov.get("repository") and prov.get("path") and prov.get("commit")) and not prov.get("doc") \
            and not prov.get("index_id") and not prov.get("url"):
        problems.append("provenance needs repository+path+commit, a doc page, a url or an index_id")
    for part in ("request", "response"):
        if not isinstance(data.get(part), dict):
            problems.append(f"{part} must be an object")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))


def load_all() -> list[Exchange]:
    out = []
    for path in sorted(ROOT.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        _check(data, path)
        out.append(Exchange(data["id"], data["kind"], data["provenance"], data["request"], data["response"],
                            data.get("setup") or {}, data.get("adapter"), path))
    return out


def fill(value: Any, names: dict[str, str]) -> Any:
    """`value` with every {{name}} replaced; an unknown placeholder is an error in the exchange file."""
    if isinstance(value, str):
        def one(m: re.Match[str]) -> str:
            if m.group(1) not in names:
                raise KeyError(f"no value for placeholder {{{{{m.group(1)}}}}}")
            return names[m.group(1)]
        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    return value


EXCHANGES = load_all()
WITH_ADAPTER = [e for e in EXCHANGES if e.adapter]
