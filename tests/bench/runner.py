"""Runs the bench: per operation and N, Applies through the server and the same work through the baseline."""

from __future__ import annotations

import itertools
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from core.write_paths import BULK, COLLECTIONS, COMPOSITE
from tests.bench.baseline import Baseline
from tests.bench.server import ServerProcess
from tests.bench.workload import OPS, Op
from tools.emulator import Emulator
from tools.emulator.latency import LatencyModel

APPLY_TIMEOUT = 900.0
P99_APPLIES = 200  # fewer Applies make p99 a maximum: below this a cell reports no p99
PATHS = (COMPOSITE, COLLECTIONS, BULK)
_tags = itertools.count(1)


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...] = (1, 200, 1000, 10_000)
    ops: tuple[str, ...] = tuple(OPS)
    latency_ms: float = LatencyModel.base_ms  # the model's base per call
    write_record_ms: float = LatencyModel.write_record_ms
    query_record_ms: float = LatencyModel.query_record_ms
    bulk_records_per_second: float = LatencyModel.bulk_records_per_second
    baseline_sample: int = 100  # events the baseline runs for a cell with more; its rate is extrapolated
    applies: int = P99_APPLIES  # Applies per cell up to `applies_max_n` events (p99 needs 200)
    applies_max_n: int = 200  # p99 for N = 1 and 200; larger cells run `budget_events` as a few Applies
    budget_events: int = 20_000  # larger cells: events per cell, as several Applies
    max_reps: int = 5
    streams: int = 4  # Applies in flight at once (a host sends batches concurrently)
    paths: tuple[str, ...] = PATHS  # one sfdest serve per path (SFDEST_WRITE_PATH), cells side by side
    bulk_from: int = 1000  # Bulk cells from this N: below it a job per Apply only measures polling

    def latency(self) -> LatencyModel:
        return LatencyModel(self.latency_ms, self.write_record_ms, self.query_record_ms, self.bulk_records_per_second)


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
    path: str  # SFDEST_WRITE_PATH of the server that ran it
    applies: int
    ours: Side
    p50_ms: float
    p99_ms: float | None
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
    if n <= plan.applies_max_n:
        return plan.applies
    return max(1, min(plan.max_reps, plan.budget_events // n))


def paths_for(plan: Plan, n: int) -> tuple[str, ...]:
    """The write paths with a cell at N: Bulk from `bulk_from` only."""
    return tuple(path for path in plan.paths if path != BULK or n >= plan.bulk_from)


def _tag(op: Op, n: int) -> str:
    return f"{op.name.replace(' ', '')}{n}r{next(_tags)}"


class _Org:
    """A fresh emulator (one org) for one cell, and the baseline's client to it."""

    def __init__(self, latency: LatencyModel):
        self.emulator = Emulator(latency=latency, api_limit=10**9).start()
        self.connection = self.emulator.connection()
        self.baseline = Baseline(self.emulator.base_url, self.emulator.issue_token())

    def fresh(self, op: Op, n: int) -> list[dict[str, Any]]:
        """n events with keys never used before, their existing records seeded (not through the API)."""
        return self._fresh(op, n, _tag(op, n))

    def _fresh(self, op: Op, n: int, tag: str) -> list[dict[str, Any]]:
        return op.payloads(tag, n, op.seed(self.emulator.org, tag, n))

    def apply_request(self, op: Op, n: int) -> Any:
        """An Apply of n fresh events, their ids never used before either."""
        tag = _tag(op, n)
        return op.request(self.connection, self._fresh(op, n, tag), tag)

    def close(self) -> None:
        self.baseline.close()
        self.emulator.stop()


class Bench:
    """One server per write path for the whole run; a fresh emulator per cell and path, so no cell reads
    another's records."""

    def __init__(self, plan: Plan, progress: bool = True):
        self.plan, self.progress = plan, progress
        self.servers: dict[str, ServerProcess] = {}
        try:
            for path in plan.paths:
                self.servers[path] = ServerProcess(max_events=max(10_000, *plan.sizes),
                                                   extra_env={"SFDEST_WRITE_PATH": path})
        except BaseException:
            self.close()
            raise
        self.rss_resettable = all(server.reset_peak_rss() for server in self.servers.values())

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()

    def _say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    @staticmethod
    def _apply(server: ServerProcess, org: _Org, op: Op, n: int) -> tuple[float, str, int]:
        """One Apply of n fresh events: (seconds, the write path it reports, failed events)."""
        request = org.apply_request(op, n)
        started = time.perf_counter()
        response = server.stub.Apply(request, timeout=APPLY_TIMEOUT)
        seconds = time.perf_counter() - started
        return seconds, response.write_path, sum(1 for r in response.results if r.status >= 300)

    def ours(self, path: str, org: _Org, op: Op, n: int) -> tuple[Side, list[float], float | None, set[str]]:
        server = self.servers[path]
        self._apply(server, org, op, 1)  # warm-up: token and describe cached, as for any connection in steady use
        server.reset_peak_rss()
        reps = reps_for(self.plan, n)
        before = org.emulator.api_calls
        started = time.perf_counter()
        with ThreadPoolExecutor(max(1, self.plan.streams)) as pool:
            done = list(pool.map(lambda _: self._apply(server, org, op, n), range(reps)))
        wall = time.perf_counter() - started
        times = [seconds for seconds, _, _ in done]
        failed = sum(f for _, _, f in done)
        records = n * reps
        calls = org.emulator.api_calls - before
        taken = {taken for _, taken, _ in done}
        return Side(calls / records, records / wall, failed, records), times, server.peak_rss_mb(), taken

    def theirs(self, org: _Org, op: Op, n: int) -> tuple[Side, bool]:
        count = n * reps_for(self.plan, n) if n == 1 else min(n, self.plan.baseline_sample)
        payloads = org.fresh(op, count)
        before = org.emulator.api_calls
        started = time.perf_counter()
        failed = org.baseline.run(op, payloads)
        seconds = time.perf_counter() - started
        return Side((org.emulator.api_calls - before) / count, count / seconds, failed, count), count < n

    def cells(self, op: Op, n: int) -> list[Cell]:
        """The baseline once, then the cell of each write path, each on a fresh org."""
        org = _Org(self.plan.latency())
        try:
            theirs, sampled = self.theirs(org, op, n)
        finally:
            org.close()
        return [self.cell(path, op, n, theirs, sampled) for path in paths_for(self.plan, n)]

    def cell(self, path: str, op: Op, n: int, theirs: Side, sampled: bool) -> Cell:
        started = time.perf_counter()
        org = _Org(self.plan.latency())
        try:
            ours, times, rss, taken = self.ours(path, org, op, n)
        finally:
            org.close()
        notes = [f"baseline ran the first {theirs.records} of {n} events; its rate is extrapolated"] if sampled else []
        if taken != {path}:
            notes.append(f"the Applies reported write paths {sorted(taken)}")
        if not self.rss_resettable:
            notes.append("peak RSS is the server's since start (clear_refs not allowed)")
        if len(times) < P99_APPLIES:
            notes.append(f"p99 needs {P99_APPLIES} Applies; this cell ran {len(times)}")
        p99 = 1000 * percentile(times, 99) if len(times) >= P99_APPLIES else None
        self._say(f"  {op.name:<14} N={n:<6} {path:<11} done in {time.perf_counter() - started:5.1f}s")
        return Cell(op.name, n, path, len(times), ours, 1000 * percentile(times, 50), p99, rss,
                    theirs, sampled, ours.records_per_second / theirs.records_per_second,
                    ours.calls_per_record / theirs.calls_per_record, notes)

    def run(self) -> list[Cell]:
        cells = []
        for n in self.plan.sizes:
            for name in self.plan.ops:
                cells += self.cells(OPS[name], n)
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
            "latency": asdict(plan.latency()),
            "cells": [asdict(c) for c in cells]}
