"""python -m tests.bench.million [--records 1000000]: upserts on an external id in one Apply through `sfdest
serve` against the emulator (latency model): Salesforce API calls in all, a result per event, the server's
CPU time and peak RSS."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
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


def request(connection: dict, records: int) -> pb.ApplyRequest:
    out = pb.ApplyRequest(action=json_format.ParseDict(SUBSCRIPTION_UPSERT, pb.Action()),
                          connection=json_format.ParseDict(connection, pb.Connection()))
    out.events.extend(pb.Event(id=str(i), payload_json=json.dumps(
        {"type": "track", "properties": {"sub_id": f"M-{i}", "plan": f"plan-{i % 7}"}})) for i in range(records))
    return out


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
    server = ServerProcess(max_events=n, extra_env={"SFDEST_MAX_MESSAGE_MB": str(max(64, n // 4000)),
                                                    "SFDEST_MAX_CALL_SECONDS": "0"})
    try:
        req = request(emulator.connection(), n)
        server.reset_peak_rss()
        cpu_before, started = cpu_seconds(server.process.pid), time.perf_counter()
        response = server.stub.Apply(req, timeout=3600)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(server.process.pid) - cpu_before
        statuses = Counter(r.status for r in response.results)
        calls = emulator.api_calls
        print(f"{n:,} upserts on an external id in one Apply: {seconds:,.1f} s wall")
        print(f"  results: {len(response.results):,} ({dict(sorted(statuses.items()))})")
        print(f"  Salesforce API calls in all: {calls} ({dict(sorted(emulator.calls.items()))}); at most {MAX_CALLS}")
        print(f"  sfdest serve CPU time: {cpu:,.1f} s (decode, prepare, CSV, upload, result correlation, encode)")
        print(f"  sfdest serve peak RSS: {server.peak_rss_mb() or 0:,.0f} MB")
        ok = len(response.results) == n and set(statuses) <= {200, 201} and calls <= MAX_CALLS
        print("  OK" if ok else "  NOT MET", file=sys.stderr)
        return 0 if ok else 1
    finally:
        server.stop()
        emulator.stop()


if __name__ == "__main__":
    raise SystemExit(main())
