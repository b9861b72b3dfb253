"""A memory soak of a real `sfdest serve` (memory backend): RSS at start, middle and end, with and without bounds.

Not in `make test` (it takes minutes and only prints): `make soak` runs
    GRPC_VERBOSITY=ERROR python -m tests.server.memory_soak --seconds 120  (quiet: no GOAWAY lines from grpc)

Each run starts `sfdest serve` and, for `--seconds`, keeps it busy the way a long-lived host does: writers send
Applies of creates to many orgs in turn (each org a few times at most) and to one hot org every third Apply;
`--idle` client connections make one call each and then stay open, doing nothing; and a churn loop opens a
connection, makes one call and closes it, again and again. The server's RSS is read from /proc at the start
(once the idle connections are open and the first writes are in), the middle and the end.

Two runs: `unbounded` (the memory bounds and connection age limits set out of reach: how the server behaved
before they existed) and `bounded` (SFDEST_MEMORY_MAX_ORGS, SFDEST_MEMORY_MAX_RECORDS_PER_ORG and the
connection idle/age limits as printed). Orgs and records kept come from the server's own metrics
(sfdest_memory_orgs, sfdest_memory_records); connections open from the server's sockets in /proc.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from tests.builders import apply_request, identify_message, lead_create
from tests.server.serving import Served, start_server, stop_server
from tests.server.test_metrics import scrape

CALL_LIMIT = 60.0  # a safety net for one call on a loaded machine; never asserted
HOT_ORG = "https://hot.my.salesforce.com"

# Out of reach: how the server behaved before the bounds (every org and record kept, connections never aged).
UNBOUNDED = {"SFDEST_MEMORY_MAX_ORGS": str(10**9), "SFDEST_MEMORY_MAX_RECORDS_PER_ORG": str(10**9),
             "SFDEST_MAX_CONNECTION_IDLE_MS": "0", "SFDEST_MAX_CONNECTION_AGE_MS": "0"}


def bounded_env(max_orgs: int, max_records: int, idle_ms: int, age_ms: int) -> dict[str, str]:
    return {"SFDEST_MEMORY_MAX_ORGS": str(max_orgs), "SFDEST_MEMORY_MAX_RECORDS_PER_ORG": str(max_records),
            "SFDEST_MAX_CONNECTION_IDLE_MS": str(idle_ms), "SFDEST_MAX_CONNECTION_AGE_MS": str(age_ms),
            "SFDEST_MAX_CONNECTION_AGE_GRACE_MS": "5000"}


def rss_kib(pid: int) -> int:
    """The process's resident set size (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def open_connections(pid: int, port: int) -> int:
    """Established TCP connections the process holds on its listening port (its sockets in /proc/<pid>/net)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    local_port = int(cols[1].rsplit(":", 1)[1], 16)
                    if local_port == port and cols[3] == "01" and cols[9] in inodes:  # 01: ESTABLISHED
                        count += 1
        except FileNotFoundError:
            continue
    return count


def new_channel(port: int) -> grpc.Channel:
    """A channel with a connection of its own (no subchannel shared with the other channels of this process)."""
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])


@dataclass
class Load:
    """What the clients did, counted by event status."""

    statuses: Counter = field(default_factory=Counter)
    applies: int = 0
    churned: int = 0
    failures: Counter = field(default_factory=Counter)  # RPC errors by code (none expected)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, response: pb.ApplyResponse) -> None:
        with self.lock:
            self.applies += 1
            self.statuses.update(r.status for r in response.results)

    def failed(self, error: grpc.RpcError) -> None:
        with self.lock:
            self.failures[error.code().name] += 1


def writer(channel: grpc.Channel, orgs: Iterator[str], per_apply: int, until: float, load: Load, n: int,
           stopped: threading.Event) -> None:
    """Applies of `per_apply` creates: the hot org every third Apply, the next org of the rotation otherwise."""
    stub = destination_pb2_grpc.DestinationServiceStub(channel)
    request = apply_request(lead_create(), *(identify_message(f"w{n}-{i}", f"w{n}.{i}@example.com")
                                             for i in range(per_apply)))
    for k in itertools.count():
        if time.monotonic() >= until or stopped.is_set():
            return
        request.connection.instance_url = HOT_ORG if k % 3 == 0 else next(orgs)
        try:
            load.count(stub.Apply(request, timeout=CALL_LIMIT))
        except grpc.RpcError as exc:
            load.failed(exc)


def churn(port: int, until: float, load: Load) -> None:
    """Open a connection, make one small call, close it; again and again."""
    for n in itertools.count():
        if time.monotonic() >= until:
            return
        channel = new_channel(port)
        try:
            request = apply_request(lead_create(), identify_message(f"c{n}", f"c{n}@example.com"),
                                    instance_url=f"https://churn{n % 50}.my.salesforce.com")
            load.count(destination_pb2_grpc.DestinationServiceStub(channel).Apply(request, timeout=CALL_LIMIT))
            with load.lock:
                load.churned += 1
        except grpc.RpcError as exc:
            load.failed(exc)
        finally:
            channel.close()
        time.sleep(0.05)


def open_idle(port: int, count: int) -> list[grpc.Channel]:
    """`count` connections, each made with one call (a Validate), then left open and unused."""
    channels = [new_channel(port) for _ in range(count)]
    for channel in channels:
        destination_pb2_grpc.DestinationServiceStub(channel).Validate(pb.ValidateRequest(action=lead_create()),
                                                                      timeout=CALL_LIMIT)
    return channels


@dataclass
class Figures:
    name: str
    rss: dict[str, int]  # KiB at start, middle, end, and the peak
    orgs: float
    records: float
    connections: dict[str, int]  # open at start and end
    load: Load
    seconds: float

    stopped_at_limit: bool = False

    def drift(self, since: str = "start") -> float:
        """RSS growth from `since` (start or middle) to the end, in percent."""
        return 100.0 * (self.rss["end"] - self.rss[since]) / self.rss[since]


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[Served, int]]:
    served = start_server({**env, "SFDEST_METRICS_LISTEN": "127.0.0.1:0",
                           "SFDEST_MAX_CONCURRENT_RPCS": "0"})
    try:
        metrics_port = next(json.loads(line)["metrics_port"] for line in served.log if '"metrics_port"' in line)
        yield served, metrics_port
    finally:
        stop_server(served)


def run(name: str, env: dict[str, str], seconds: float, orgs: int, idle: int, writers: int, per_apply: int,
        say: Callable[[str], None], rss_limit_kib: int) -> Figures:
    with serving(env) as (served, metrics_port):
        pid, port = served.process.pid, served.port
        load = Load()
        idle_channels = open_idle(port, idle)
        rotation = itertools.cycle([f"https://org{n}.my.salesforce.com" for n in range(orgs)])
        lock = threading.Lock()

        def next_org() -> Iterator[str]:
            while True:
                with lock:
                    org = next(rotation)
                yield org

        began = time.monotonic()
        until = began + seconds
        stopped = threading.Event()
        writer_channels = [new_channel(port) for _ in range(writers)]
        threads = [threading.Thread(target=writer, daemon=True,
                                    args=(channel, next_org(), per_apply, until, load, n, stopped))
                   for n, channel in enumerate(writer_channels)]
        threads.append(threading.Thread(target=churn, args=(port, until, load), daemon=True))
        for t in threads:
            t.start()
        rss: dict[str, int] = {}
        connections: dict[str, int] = {}
        peak = 0
        marks = {"start": began + 0.1 * seconds, "middle": began + 0.5 * seconds}
        while any(t.is_alive() for t in threads):
            now = time.monotonic()
            current = rss_kib(pid)
            peak = max(peak, current)
            for mark, at in marks.items():
                if mark not in rss and now >= at:
                    rss[mark] = current
                    connections[mark] = open_connections(pid, port)
                    say(f"  {name}: {mark} RSS {current / 1024:.0f} MiB after {now - began:.0f} s, "
                        f"{load.applies} Applies")
            if current > rss_limit_kib and not stopped.is_set():
                say(f"  {name}: RSS {current / 1024:.0f} MiB passed the soak's limit: stopping the writers")
                stopped.set()
            time.sleep(0.5)
        for t in threads:
            t.join()
        rss["end"] = rss_kib(pid)
        rss["peak"] = max(peak, rss["end"])
        connections["end"] = open_connections(pid, port)
        metrics = scrape(metrics_port)
        for channel in idle_channels + writer_channels:
            channel.close()
        return Figures(name, rss, metrics[("sfdest_memory_orgs", ())], metrics[("sfdest_memory_records", ())],
                       connections, load, time.monotonic() - began, stopped.is_set())


def report(figures: Figures) -> str:
    r, load = figures.rss, figures.load
    refused = sum(n for status, n in load.statuses.items() if status >= 300)
    return (f"{figures.name:9} RSS start {r['start'] / 1024:6.0f} MiB, middle {r['middle'] / 1024:6.0f} MiB, "
            f"end {r['end'] / 1024:6.0f} MiB (peak {r['peak'] / 1024:.0f}), drift {figures.drift():+.0f} % "
            f"({figures.drift('middle'):+.0f} % over the second half)"
            f"{' (stopped early at the RSS limit)' if figures.stopped_at_limit else ''}; "
            f"kept {figures.orgs:.0f} orgs, {figures.records:,.0f} records; connections open "
            f"{figures.connections['start']} at start, {figures.connections['middle']} middle, "
            f"{figures.connections['end']} at end; "
            f"{load.applies} Applies, {load.statuses[201]:,} records created, {refused:,} refused "
            f"(422 past the record cap), {load.churned} connections churned"
            + (f"; RPC errors {dict(load.failures)}" if load.failures else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each run")
    parser.add_argument("--orgs", type=int, default=2000, help="orgs the writers rotate through")
    parser.add_argument("--idle", type=int, default=200, help="idle connections left open")
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--per-apply", type=int, default=200, help="creates per Apply")
    parser.add_argument("--max-orgs", type=int, default=16, help="SFDEST_MEMORY_MAX_ORGS of the bounded run")
    parser.add_argument("--max-records", type=int, default=10_000,
                        help="SFDEST_MEMORY_MAX_RECORDS_PER_ORG of the bounded run")
    parser.add_argument("--idle-ms", type=int, default=15_000, help="SFDEST_MAX_CONNECTION_IDLE_MS of the bounded run")
    parser.add_argument("--age-ms", type=int, default=60_000, help="SFDEST_MAX_CONNECTION_AGE_MS of the bounded run")
    parser.add_argument("--only", choices=("unbounded", "bounded"), help="one run instead of both")
    parser.add_argument("--rss-limit-mib", type=int, default=3072, help="stop a run's writers past this RSS")
    args = parser.parse_args()
    bounded = bounded_env(args.max_orgs, args.max_records, args.idle_ms, args.age_ms)
    runs = [(n, env) for n, env in (("unbounded", UNBOUNDED), ("bounded", bounded)) if args.only in (None, n)]
    print(f"memory soak: `sfdest serve` (memory backend), {args.seconds:.0f} s per run; {args.writers} writers x "
          f"{args.per_apply} creates per Apply over {args.orgs} orgs plus a hot org every third Apply; "
          f"{args.idle} idle connections; connection churn", flush=True)
    print(f"  bounded run: {', '.join(f'{k}={v}' for k, v in bounded.items())}", flush=True)
    results = [run(n, env, args.seconds, args.orgs, args.idle, args.writers, args.per_apply,
                   lambda line: print(line, flush=True), args.rss_limit_mib * 1024) for n, env in runs]
    for figures in results:
        print(report(figures), flush=True)
    if len(results) == 2:
        before, after = results
        print(f"RSS drift start -> end: unbounded (before the bounds) {before.drift():+.0f} %, bounded "
              f"{after.drift():+.0f} %; over the second half: {before.drift('middle'):+.0f} % and "
              f"{after.drift('middle'):+.0f} %")


if __name__ == "__main__":
    main()
