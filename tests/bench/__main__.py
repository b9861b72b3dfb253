"""python -m tests.bench [--quick] [--latency-ms 60] [--applies 200] [--sizes 1,200] [--ops ...] [--paths ...]
[--json bench-results.json]."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tests.bench.report import table
from tests.bench.runner import PATHS, Plan, run
from tests.bench.workload import OPS

QUICK = {"sizes": (1, 200), "latency_ms": 10.0, "baseline_sample": 50, "applies": 200, "applies_max_n": 1,
         "budget_events": 2000, "max_reps": 10}


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N = 1 (200 Applies) and 200 (10 Applies), 10 ms base")
    parser.add_argument("--latency-ms", type=float, help="the latency model's base per Salesforce call (default 60)")
    parser.add_argument("--applies", type=int, help="Applies per cell up to --applies-max-n events (default 200)")
    parser.add_argument("--applies-max-n", type=int, help="larger cells run a few Applies, no p99 (default 200)")
    parser.add_argument("--sizes", type=_sizes, help="comma-separated N (default 1,200,1000,10000)")
    parser.add_argument("--ops", help=f"comma-separated, from: {', '.join(OPS)}")
    parser.add_argument("--baseline-sample", type=int, help="events the baseline runs in a larger cell (default 100)")
    parser.add_argument("--paths", help=f"comma-separated write paths, from: {', '.join(PATHS)} (default all)")
    parser.add_argument("--bulk-from", type=int, help="the smallest N with Bulk cells (default 1000)")
    parser.add_argument("--json", default="bench-results.json", help="where the figures go (default %(default)s)")
    args = parser.parse_args(argv)
    settings = dict(QUICK) if args.quick else {}
    if args.latency_ms is not None:
        settings["latency_ms"] = args.latency_ms
    if args.sizes:
        settings["sizes"] = args.sizes
    if args.ops:
        names = tuple(o.strip() for o in args.ops.split(","))
        unknown = [n for n in names if n not in OPS]
        if unknown:
            parser.error(f"unknown ops {unknown}; choose from {list(OPS)}")
        settings["ops"] = names
    if args.paths:
        paths = tuple(p.strip() for p in args.paths.split(","))
        if [p for p in paths if p not in PATHS]:
            parser.error(f"unknown paths in {list(paths)}; choose from {list(PATHS)}")
        settings["paths"] = paths
    if args.bulk_from is not None:
        settings["bulk_from"] = args.bulk_from
    if args.applies:
        settings["applies"] = args.applies
    if args.applies_max_n is not None:
        settings["applies_max_n"] = args.applies_max_n
    if args.baseline_sample:
        settings["baseline_sample"] = args.baseline_sample
    result = run(Plan(**settings))
    print(table(result))
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
