"""python -m tests.bench.million [--records 1000000]: upserts on an external id through one ApplyStream call to
`sfdest serve` against the emulator (latency model): Salesforce API calls in all, a result per event, the
server's CPU time (from /proc, and per step as the call's summary reports it) and peak RSS (VmHWM)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb

from tests.bench.server import ServerProcess
from tests.bench.workload import SUBSCRIPTION_UPSERT
from tools.emulator import Emulator
from tools.emulator.latency import LatencyModel

MAX_CALLS = 40


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PER_MESSAGE = 10_000


def messages(connection: dict, records: int) -> Iterator[pb.ApplyStreamRequest]:
    """The first message names the connection and the action; then PER_MESSAGE events a message."""
    yield pb.ApplyStreamRequest(action=json_format.ParseDict(SUBSCRIPTION_UPSERT, pb.Action()),
                                connection=json_format.ParseDict(connection, pb.Connection()))
    for start in range(0, records, PER_MESSAGE):
        yield pb.ApplyStreamRequest(events=[pb.Event(id=str(i), payload_json=json.dumps(
            {"type": "track", "properties": {"sub_id": f"M-{i}", "plan": f"plan-{i % 7}"}}))
            for i in range(start, min(start + PER_MESSAGE, records))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.million", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seeded", type=float, default=0.5, help="share of the keys that exist before (default 0.5)")
    parser.add_argument("--bulk-rate", type=float, default=10_000.0,
                        help="records a second the emulated Bulk job processes (default %(default)s; the latency "
                        "model's 2,000 would make a million wait 500 s, near the 600 s sfdest waits for a job)")
    args = parser.parse_args(argv)
    n = args.records
    emulator = Emulator(latency=LatencyModel(bulk_records_per_second=args.bulk_rate), api_limit=10**9).start()
    step = round(1 / args.seeded) if args.seeded else 0
    for i in range(0, n, step) if step else ():
        emulator.org.seed("Subscription__c", {"External_Id__c": f"M-{i}", "Plan__c": "old"})
    server = ServerProcess(max_events=PER_MESSAGE)  # the call's deadline (1 hour) bounds it, not SFDEST_MAX_CALL_SECONDS
    try:
        server.reset_peak_rss()
        cpu_before, started = cpu_seconds(server.process.pid), time.perf_counter()
        statuses: Counter[int] = Counter()
        positions = bytearray(n)
        last = pb.ApplyStreamResponse()
        for last in server.stub.ApplyStream(messages(emulator.connection(), n), timeout=3600):
            for r in last.results:
                statuses[r.result.status] += 1
                positions[r.position] = 1
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(server.process.pid) - cpu_before
        answered = sum(statuses.values())
        calls = emulator.api_calls
        steps = {s.step: s.cpu.ToTimedelta().total_seconds() for s in last.cpu_by_step}
        print(f"{n:,} upserts on an external id in one ApplyStream ({PER_MESSAGE:,} events a message): "
              f"{seconds:,.1f} s wall")
        print(f"  results: {answered:,}, one for each of {sum(positions):,} positions "
              f"({dict(sorted(statuses.items()))})")
        print(f"  Salesforce API calls in all: {calls} ({dict(sorted(emulator.calls.items()))}); summary says "
              f"{last.summary.salesforce_api_calls}; at most {MAX_CALLS}")
        print(f"  sfdest serve CPU time: {cpu:,.1f} s in all (/proc); by step (thread CPU of the call): "
              + ", ".join(f"{k} {v:,.1f} s" for k, v in steps.items()))
        print(f"  sfdest serve peak RSS: {server.peak_rss_mb() or 0:,.0f} MB (VmHWM)")
        ok = answered == n == sum(positions) and set(statuses) <= {200, 201} and calls <= MAX_CALLS
        print("  OK" if ok else "  NOT MET", file=sys.stderr)
        return 0 if ok else 1
    finally:
        server.stop()
        emulator.stop()


if __name__ == "__main__":
    raise SystemExit(main())
