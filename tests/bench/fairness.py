"""python -m tests.bench.fairness [--seconds 20] [--workers 16] [--load 3] [--quiet-orgs 4]

A noisy org sending Applies at `--load` times the server's capacity (open loop: every RPC thread busy with
one of its Applies, each a Salesforce call of `--noisy-latency-ms`) beside quiet orgs that send one Apply
at a time, on one `sfdest serve` (Salesforce backend, each org its own emulator). Prints the quiet orgs' success ratio and the latency of the noisy org's refusals
(p50, p99). A measurement, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import grpc
from sfdest.v1 import destination_pb2 as pb

from tests.builders import grant_connection, identify_message
from tests.e2e.salesforce.test_grpc_fairness import CREATE_LEAD, refusal_of
from tests.server.serving import start_server, stop_server
from tools.emulator.server import Emulator


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.fairness", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=16, help="SFDEST_MAX_WORKERS (default 16)")
    parser.add_argument("--load", type=float, default=3.0, help="the noisy org's rate over capacity (default 3)")
    parser.add_argument("--quiet-orgs", type=int, default=4)
    parser.add_argument("--noisy-latency-ms", type=float, default=1000.0)
    parser.add_argument("--quiet-latency-ms", type=float, default=20.0)
    parser.add_argument("--quiet-deadline", type=float, default=5.0)
    args = parser.parse_args(argv)
    noisy = Emulator(latency_ms=args.noisy_latency_ms).start()
    quiet = [Emulator(host=f"127.0.0.{n + 2}", latency_ms=args.quiet_latency_ms).start()
             for n in range(args.quiet_orgs)]
    served = start_server({"SFDEST_BACKEND": "salesforce", "SFDEST_SALESFORCE_ALLOW_LOOPBACK_HTTP": "true",
                           "SFDEST_MAX_WORKERS": str(args.workers),
                           "SFDEST_GRACE_SECONDS": "1"})
    lock, stop = threading.Lock(), threading.Event()
    refusals: list[float] = []
    noisy_outcomes: Counter[tuple[str, str]] = Counter()
    quiet_outcomes: Counter[str] = Counter()

    def noisy_sender(rate: float) -> None:
        """Open loop: `rate` Applies a second whatever the answers (a host replaying a backlog)."""
        conn, n, due = grant_connection(noisy, "oauth_refresh_token"), 0, time.perf_counter()
        while not stop.is_set():
            n += 1
            request = pb.ApplyRequest(connection=conn, action=CREATE_LEAD,
                                      events=[identify_message(f"n{n}", f"noisy{n}@example.com", "Noisy")])
            started = time.perf_counter()
            future = served.stub.Apply.future(request, timeout=60)

            def done(f: grpc.Future, started: float = started) -> None:
                exc = f.exception()
                outcome = ("OK", "") if exc is None else refusal_of(exc)
                with lock:
                    noisy_outcomes[outcome] += 1
                    if exc is not None:
                        refusals.append(time.perf_counter() - started)

            future.add_done_callback(done)
            due += 1.0 / rate
            stop.wait(max(0.0, due - time.perf_counter()))

    def quiet_caller(emu: Emulator) -> None:
        conn, i = grant_connection(emu, "oauth_refresh_token"), 0
        while not stop.is_set():
            i += 1
            request = pb.ApplyRequest(connection=conn, action=CREATE_LEAD,
                                      events=[identify_message(f"q{i}", f"quiet{i}@example.com", "Quiet")])
            try:
                response = served.stub.Apply(request, timeout=args.quiet_deadline)
                outcome = "OK" if [r.status for r in response.results] == [201] else "FAILED_EVENT"
            except grpc.RpcError as exc:
                outcome = "/".join(refusal_of(exc)) + ("" if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                                                       else f" ({exc.details()[:160]})")
            with lock:
                quiet_outcomes[outcome] += 1

    # Capacity: every RPC thread running one of the noisy org's Applies, each one Salesforce call long.
    rate = args.load * args.workers / (args.noisy_latency_ms / 1000)
    try:
        with ThreadPoolExecutor(1 + len(quiet)) as pool:
            runs = [pool.submit(noisy_sender, rate)]
            time.sleep(1.0)  # the noisy org first fills what it can
            runs += [pool.submit(quiet_caller, emu) for emu in quiet]
            time.sleep(args.seconds)
            stop.set()
            for run in runs:
                run.result()
            time.sleep(args.noisy_latency_ms / 1000 * 2)  # the last noisy answers
    finally:
        stop_server(served)
        for emu in (noisy, *quiet):
            emu.stop()
    total = sum(quiet_outcomes.values())
    print(f"noisy org: {rate:.0f} Applies/s ({args.load}x the capacity of {args.workers} RPC threads at "
          f"{args.noisy_latency_ms:.0f} ms a call); quiet orgs: {len(quiet)}, one Apply at a time; {args.seconds:.0f} s")
    print(f"quiet: {quiet_outcomes['OK']} of {total} succeeded ({100 * quiet_outcomes['OK'] / max(total, 1):.1f} %);"
          f" {dict(quiet_outcomes)}")
    print(f"noisy: {dict(noisy_outcomes)}")
    print(f"noisy refusals: n={len(refusals)} p50={1000 * percentile(refusals, 0.5):.1f} ms "
          f"p99={1000 * percentile(refusals, 0.99):.1f} ms "
          f"mean={1000 * (statistics.fmean(refusals) if refusals else float('nan')):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
