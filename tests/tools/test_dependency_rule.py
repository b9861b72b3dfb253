"""The lint step that keeps core framework-free and adapters away from the server."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "tools" / "check_dependencies.py"


def run_checker(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), str(tree)], capture_output=True, text=True)


def make_tree(tmp_path: Path, core_src: str, adapter_src: str = "import httpx\n") -> Path:
    for layer, src in (("core", core_src), ("adapters", adapter_src)):
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "mod.py").write_text(src)
    return tmp_path


def test_the_repository_keeps_the_rule():
    result = run_checker(ROOT)
    assert result.returncode == 0, result.stderr


def test_core_importing_a_third_party_package_fails(tmp_path):
    result = run_checker(make_tree(tmp_path, "import json\nimport httpx\n"))
    assert result.returncode == 1
    assert "core/ may use the standard library only, not httpx" in result.stderr


def test_core_running_threads_processes_or_event_loops_fails(tmp_path):
    result = run_checker(make_tree(tmp_path, "import threading\nfrom concurrent.futures import ThreadPoolExecutor\n"
                                   "import asyncio\nimport multiprocessing.pool\nimport json\n"))
    assert result.returncode == 1
    for module in ("threading", "concurrent", "asyncio", "multiprocessing"):
        assert f"core/ must not import {module} (concurrency belongs to the adapters)" in result.stderr
    assert "json" not in result.stderr
    (tmp_path / "second").mkdir()
    adapters = run_checker(make_tree(tmp_path / "second", "import json\n", "import threading\n"))
    assert adapters.returncode == 0, adapters.stderr


def test_core_importing_the_server_fails(tmp_path):
    result = run_checker(make_tree(tmp_path, "from server.app import serve\n"))
    assert result.returncode == 1
    assert "core/ must not import server" in result.stderr


def test_adapters_importing_grpc_fails(tmp_path):
    result = run_checker(make_tree(tmp_path, "import re\n", "import grpc\n"))
    assert result.returncode == 1
    assert "adapters/ must not import grpc" in result.stderr


def test_standard_library_only_core_passes(tmp_path):
    result = run_checker(make_tree(tmp_path, "import re\nfrom dataclasses import dataclass\nfrom core import x\n"))
    assert result.returncode == 0, result.stderr


def write(tree: Path, relative: str, src: str) -> None:
    path = tree / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(src)


def test_server_importing_the_emulator_fails(tmp_path):
    write(tmp_path, "server/cli.py", "from tools.emulator.server import Emulator\n")
    result = run_checker(tmp_path)
    assert result.returncode == 1
    assert "server/ must not import tools" in result.stderr


def test_adapters_importing_tests_fails(tmp_path):
    write(tmp_path, "adapters/salesforce/x.py", "from tests.builders import action\n")
    result = run_checker(tmp_path)
    assert result.returncode == 1
    assert "adapters/ must not import tests" in result.stderr


def test_one_adapter_importing_the_other_fails(tmp_path):
    write(tmp_path, "adapters/salesforce/x.py", "from adapters.memory.org import Org\n")
    write(tmp_path, "adapters/memory/y.py", "import adapters.salesforce.soql\n")
    result = run_checker(tmp_path)
    assert result.returncode == 1
    assert "adapters/salesforce must not import adapters.memory" in result.stderr
    assert "adapters/memory must not import adapters.salesforce" in result.stderr


def test_the_emulators_soql_borrowing_cores_or_the_memory_orgs_matching_fails(tmp_path):
    write(tmp_path, "tools/emulator/query.py", "from core.coercion import match_key\nfrom core.describe import X\n")
    write(tmp_path, "tools/emulator/equality.py", "import adapters.memory.table\nfrom adapters.memory.ids import I\n")
    result = run_checker(tmp_path)
    assert result.returncode == 1
    assert "tools/emulator/query.py:1: the emulator's SOQL evaluation must not import core.coercion" in result.stderr
    assert "tools/emulator/equality.py:1: the emulator's SOQL evaluation must not import adapters.memory.table" \
        in result.stderr
    assert "core.describe" not in result.stderr and "adapters.memory.ids" not in result.stderr
