"""Enforce the hexagon's dependency rule: core is standard-library only; adapters know no server or grpc."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FIRST_PARTY = {"core", "adapters", "server", "tests", "sfdest"}
# Per layer: the first-party packages it may import, and third-party packages it must not import.
RULES = {
    "core": {"first_party": {"core"}, "third_party_allowed": False, "forbidden": set()},
    "adapters": {"first_party": {"core", "adapters"}, "third_party_allowed": True,
                 "forbidden": {"grpc", "grpc_status", "grpc_health", "grpc_reflection", "google",
                               "dependency_injector", "sfdest"}},
}


def imported_roots(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.append((node.lineno, node.module.split(".")[0]))
    return roots


def violations(root: Path) -> list[str]:
    found = []
    for layer, rule in RULES.items():
        for path in sorted((root / layer).rglob("*.py")):
            for line, name in imported_roots(path):
                where = f"{path.relative_to(root)}:{line}"
                if name in FIRST_PARTY and name not in rule["first_party"]:
                    found.append(f"{where}: {layer}/ must not import {name}")
                elif name in FIRST_PARTY or name in sys.stdlib_module_names or name == "__future__":
                    continue
                elif not rule["third_party_allowed"]:
                    found.append(f"{where}: {layer}/ may use the standard library only, not {name}")
                elif name in rule["forbidden"]:
                    found.append(f"{where}: {layer}/ must not import {name}")
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found = violations(root)
    for v in found:
        print(v, file=sys.stderr)
    print(f"dependency rule: {len(found)} violation(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
