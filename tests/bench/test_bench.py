"""The bench machinery end to end on a tiny N with no latency: its JSON, and fewer calls than the baseline."""

from __future__ import annotations

import json

from tests.bench.__main__ import main
from tests.bench.runner import PATHS, Plan, paths_for, reps_for
from tests.bench.workload import OPS

COMPOSITE, COLLECTIONS = "composite", "collections"


def test_the_bench_writes_its_figures_and_needs_fewer_calls_than_the_baseline(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--sizes", "1,20", "--latency-ms", "0", "--baseline-sample", "10", "--applies", "200",
                 "--applies-max-n", "1", "--paths", COMPOSITE, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result) == {"plan", "seconds", "counting", "latency", "cells"}
    cells = {(c["op"], c["n"], c["path"]): c for c in result["cells"]}
    assert set(cells) == {(op, n, COMPOSITE) for op in OPS for n in (1, 20)}
    for (op, n, path), c in cells.items():
        assert c["ours"]["failed"] == c["baseline"]["failed"] == 0, (op, n)
        assert c["ours"]["records"] == n * c["applies"] and c["ours"]["records_per_second"] > 0
        if n == 1:  # p99 from 200 Applies; a cell of fewer Applies reports none (it would be their maximum)
            assert c["applies"] == 200 and c["p50_ms"] <= c["p99_ms"]
        else:
            assert 1 <= c["applies"] < 200 and c["p99_ms"] is None
        assert c["baseline_sampled"] == (n == 20) and c["baseline"]["records"] == (10 if n == 20 else c["applies"])
        assert c["peak_rss_mb"] is None or c["peak_rss_mb"] > 0
        ours, theirs = c["ours"]["calls_per_record"], c["baseline"]["calls_per_record"]
        assert ours < theirs if n == 20 else ours <= theirs, (op, n, path, ours, theirs)
        assert not any("write paths" in note for note in c["notes"]), c["notes"]  # each took its server's path
    assert cells[("upsert ext id", 1, COMPOSITE)]["ours"]["calls_per_record"] == 1  # native upsert: no lookup
    assert cells[("create", 20, COMPOSITE)]["ours"]["calls_per_record"] == 1 / 20
    assert cells[("upsert ext id", 20, COMPOSITE)]["baseline"]["calls_per_record"] == 1  # native upsert too
    assert "rec/s ours/base" in capsys.readouterr().out


def test_cells_of_each_path_side_by_side_each_reporting_its_servers_path(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--sizes", "20", "--ops", "upsert Email", "--latency-ms", "0", "--baseline-sample", "10",
                 "--applies-max-n", "0", "--paths", "composite,collections", "--json", str(out)]) == 0
    cells = json.loads(out.read_text())["cells"]
    assert [c["path"] for c in cells] == ["composite", "collections"]
    for c in cells:
        assert c["ours"]["failed"] == 0 and not any("write paths" in note for note in c["notes"]), c["notes"]
        assert c["ours"]["calls_per_record"] < c["baseline"]["calls_per_record"]
    assert " collections " in capsys.readouterr().out


def test_bulk_cells_run_a_job_per_apply(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["--sizes", "20", "--ops", "create", "--paths", "bulk", "--bulk-from", "1", "--latency-ms", "0", "--baseline-sample",
                 "10", "--applies-max-n", "0", "--json", str(out)]) == 0
    [cell] = json.loads(out.read_text())["cells"]
    assert (cell["path"], cell["ours"]["failed"], cell["notes"][1:2]) == ("bulk", 0, ["p99 needs 200 Applies; "
                                                                                     f"this cell ran {cell['applies']}"])
    # a job: create, upload, close, at least one poll, the successful results: 5 calls or more for 20 records
    assert 5 / 20 <= cell["ours"]["calls_per_record"] < cell["baseline"]["calls_per_record"]


def test_bulk_cells_start_at_bulk_from_and_small_cells_keep_p99():
    plan = Plan()
    assert [paths_for(plan, n) for n in (1, 200, 1000, 10_000)] == [
        (COMPOSITE, COLLECTIONS), (COMPOSITE, COLLECTIONS), PATHS, PATHS]
    assert [reps_for(plan, n) for n in (1, 200, 1000, 10_000)] == [200, 200, 5, 2]
