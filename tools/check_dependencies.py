"""Enforce the hexagon's dependency rule: core is standard-library only; adapters know no server or grpc.

Production code (core, adapters, server) never imports tests/ or tools/, and the two adapters never
import each other: each stands alone behind core's ports. The emulator's SOQL evaluation and value
comparison are its own: they never import core's or the memory org's matching, so a wrong equality in
core cannot pass on both legs of the contract suite.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FIRST_PARTY = {"core", "adapters", "server", "tests", "tools", "sfdest"}
# Per layer: the first-party packages it may import, and third-party packages it must not import.
# Core runs no threads, processes or event loops: concurrency is the adapters' (behind RecordStore.write_batches,
# find_many), so these standard-library modules are forbidden there.
CONCURRENCY = {"threading", "_thread", "concurrent", "asyncio", "multiprocessing"}
RULES = {
    "core": {"first_party": {"core"}, "third_party_allowed": False, "forbidden": CONCURRENCY},
    "adapters": {"first_party": {"core", "adapters"}, "third_party_allowed": True,
                 "forbidden": {"grpc", "grpc_status", "grpc_health", "grpc_reflection", "google",
                               "dependency_injector", "sfdest"}},
    "server": {"first_party": {"core", "adapters", "server", "sfdest"}, "third_party_allowed": True,
               "forbidden": set()},
}
# Adapter packages that must not import one another (adapters/<name>/...).
ADAPTERS = ("coordination", "memory", "salesforce")
# The emulator's comparison modules, and the matching they must not borrow (module or module prefix).
EMULATOR_EQUALITY = ("tools/emulator/equality.py", "tools/emulator/query.py", "tools/emulator/soql.py",
                     "tools/emulator/soql_parser.py")
BORROWED_MATCHING = ("core.coercion", "core.planning", "core.sequencing", "core.names", "adapters.memory.query",
                     "adapters.memory.table", "adapters.memory.org_reads", "adapters.memory.record_rules")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
    return names


def adapter_violations(root: Path) -> list[str]:
    found = []
    for adapter in ADAPTERS:
        for path in sorted((root / "adapters" / adapter).rglob("*.py")):
            for line, module in imported_modules(path):
                parts = module.split(".")
                if len(parts) > 1 and parts[0] == "adapters" and parts[1] in ADAPTERS and parts[1] != adapter:
                    where = f"{path.relative_to(root)}:{line}"
                    found.append(f"{where}: adapters/{adapter} must not import adapters.{parts[1]}")
    return found


def emulator_violations(root: Path) -> list[str]:
    found = []
    for name in (n for n in EMULATOR_EQUALITY if (root / n).exists()):
        path = root / name
        for line, module in imported_modules(path):
            borrowed = next((m for m in BORROWED_MATCHING if module == m or module.startswith(m + ".")), None)
            if borrowed:
                found.append(f"{name}:{line}: the emulator's SOQL evaluation must not import {borrowed} "
                             "(its equality is written from Salesforce's documentation)")
    return found


def imported_roots(path: Path) -> list[tuple[int, str]]:
    return [(line, module.split(".")[0]) for line, module in imported_modules(path)]


def violations(root: Path) -> list[str]:
    found = []
    for layer, rule in RULES.items():
        for path in sorted((root / layer).rglob("*.py")):
            for line, name in imported_roots(path):
                where = f"{path.relative_to(root)}:{line}"
                if name in FIRST_PARTY and name not in rule["first_party"]:
                    found.append(f"{where}: {layer}/ must not import {name}")
                elif name in rule["forbidden"] and name in CONCURRENCY:
                    found.append(f"{where}: {layer}/ must not import {name} (concurrency belongs to the adapters)")
                elif name in FIRST_PARTY or name in sys.stdlib_module_names or name == "__future__":
                    continue
                elif not rule["third_party_allowed"]:
                    found.append(f"{where}: {layer}/ may use the standard library only, not {name}")
                elif name in rule["forbidden"]:
                    found.append(f"{where}: {layer}/ must not import {name}")
    return found + adapter_violations(root) + emulator_violations(root)


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found = violations(root)
    for v in found:
        print(v, file=sys.stderr)
    print(f"dependency rule: {len(found)} violation(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
