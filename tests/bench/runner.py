"""Runs the bench: per operation and N, Applies through the server and the same work through the baseline."""

from __future__ import annotations

import itertools
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.bench.baseline import Baseline
from tests.bench.server import ServerProcess
from tests.bench.workload import OPS, Op
from tools.emulator import Emulator

APPLY_TIMEOUT = 900.0
_tags = itertools.count(1)


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...] = (1, 200, 1000, 10_000)
    ops: tuple[str, ...] = tuple(OPS)
    latency_ms: float = 50.0
    baseline_sample: int = 100  # events the baseline runs for a cell with more; its rate is extrapolated
    budget_events: int = 5000  # events per cell for our side, as several Applies when N is small
    max_reps: int = 20


@dataclass
class Side:
    calls_per_record: float
    records_per_second: float
    failed: int
    records: int


@dataclass
class Cell:
    op: str
    n: int
    applies: int
    ours: Side
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float | None
    baseline: Side
    baseline_sampled: bool
    rate_ratio: float  # ours / baseline records per second
    calls_ratio: float  # ours / baseline calls per record
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def reps_for(plan: Plan, n: int) -> int:
    return max(1, min(plan.max_reps, plan.budget_events // n))


def _tag(op: Op, n: int) -> str:
    return f"{op.name.replace(' ', '')}{n}r{next(_tags)}"


class _Org:
    """A fresh emulator (one org) for one cell, and the baseline's client to it."""

    def __init__(self, latency_ms: float):
        self.emulator = Emulator(latency_ms=latency_ms, api_limit=10**9).start()
        self.connection = self.emulator.connection()
        self.baseline = Baseline(self.emulator.base_url, self.emulator.issue_token())

    def fresh(self, op: Op, n: int) -> list[dict[str, Any]]:
        """n events with keys never used before, their existing records seeded (not through the API)."""
        tag = _tag(op, n)
        return op.payloads(tag, n, op.seed(self.emulator.org, tag, n))

    def close(self) -> None:
        self.baseline.close()
        self.emulator.stop()


class Bench:
    """One server for the whole run; a fresh emulator per cell, so no cell reads another's records."""

    def __init__(self, plan: Plan, progress: bool = True):
        self.plan, self.progress = plan, progress
        self.server = ServerProcess(max_events=max(10_000, *plan.sizes))
        self.rss_resettable = self.server.reset_peak_rss()

    def close(self) -> None:
        self.server.stop()

    def _say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    def _apply(self, org: _Org, op: Op, n: int) -> tuple[float, int, int]:
        """One Apply of n fresh events: (seconds, API calls at the emulator, failed events)."""
        request = op.request(org.connection, org.fresh(op, n))
        before = org.emulator.api_calls
        started = time.perf_counter()
        response = self.server.stub.Apply(request, timeout=APPLY_TIMEOUT)
        seconds = time.perf_counter() - started
        return seconds, org.emulator.api_calls - before, sum(1 for r in response.results if r.status >= 300)

    def ours(self, org: _Org, op: Op, n: int) -> tuple[Side, list[float], float | None]:
        self._apply(org, op, 1)  # warm-up: token and describe cached, as for any connection in steady use
        self.server.reset_peak_rss()
        times, calls, failed, reps = [], 0, 0, reps_for(self.plan, n)
        for _ in range(reps):
            seconds, c, f = self._apply(org, op, n)
            times.append(seconds)
            calls, failed = calls + c, failed + f
        records = n * reps
        return Side(calls / records, records / sum(times), failed, records), times, self.server.peak_rss_mb()

    def theirs(self, org: _Org, op: Op, n: int) -> tuple[Side, bool]:
        count = n * reps_for(self.plan, n) if n == 1 else min(n, self.plan.baseline_sample)
        payloads = org.fresh(op, count)
        before = org.emulator.api_calls
        started = time.perf_counter()
        failed = org.baseline.run(op, payloads)
        seconds = time.perf_counter() - started
        return Side((org.emulator.api_calls - before) / count, count / seconds, failed, count), count < n

    def cell(self, op: Op, n: int) -> Cell:
        org = _Org(self.plan.latency_ms)
        try:
            theirs, sampled = self.theirs(org, op, n)  # first: its lookups scan a small table
            ours, times, rss = self.ours(org, op, n)
        finally:
            org.close()
        notes = [f"baseline ran the first {theirs.records} of {n} events; its rate is extrapolated"] if sampled else []
        if not self.rss_resettable:
            notes.append("peak RSS is the server's since start (clear_refs not allowed)")
        return Cell(op.name, n, len(times), ours, 1000 * percentile(times, 50), 1000 * percentile(times, 99), rss,
                    theirs, sampled, ours.records_per_second / theirs.records_per_second,
                    ours.calls_per_record / theirs.calls_per_record, notes)

    def run(self) -> list[Cell]:
        cells = []
        for n in self.plan.sizes:
            for name in self.plan.ops:
                started = time.perf_counter()
                cells.append(self.cell(OPS[name], n))
                self._say(f"  {name:<14} N={n:<6} done in {time.perf_counter() - started:5.1f}s")
        return cells


def run(plan: Plan, progress: bool = True) -> dict[str, Any]:
    bench = Bench(plan, progress)
    started = time.perf_counter()
    try:
        cells = bench.run()
    finally:
        bench.close()
    return {"plan": asdict(plan), "seconds": round(time.perf_counter() - started, 1),
            "counting": "Salesforce API calls counted at the emulator, after one warm-up Apply per cell (token and "
                        "describe cached); token requests are not API calls",
            "cells": [asdict(c) for c in cells]}
