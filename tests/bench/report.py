"""The bench's figures as a plain-text table."""

from __future__ import annotations

from typing import Any

COLUMNS = ("op", "N", "path", "applies", "calls/rec", "rec/s", "p50 ms", "p99 ms", "peak RSS MB",
           "base calls/rec", "base rec/s", "rec/s ours/base", "calls ours/base")


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for c in result["cells"]:
        ours, base = c["ours"], c["baseline"]
        mark = "*" if c["baseline_sampled"] else ""
        out.append((c["op"], f"{c['n']:,}", c["path"], str(c["applies"]), _num(ours["calls_per_record"], 4),
                    _num(ours["records_per_second"]), _num(c["p50_ms"], 1), _num(c["p99_ms"], 1),
                    _num(c["peak_rss_mb"], 1), _num(base["calls_per_record"], 2) + mark,
                    _num(base["records_per_second"], 1) + mark, f"{c['rate_ratio']:,.1f}x",
                    f"{c['calls_ratio']:.4f}"))
    return out


def table(result: dict[str, Any]) -> str:
    body = [COLUMNS, *rows(result)]
    widths = [max(len(r[i]) for r in body) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
             for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    plan = result["plan"]
    sampled = {c["baseline"]["records"] for c in result["cells"] if c["baseline_sampled"]}
    lines += ["",
              f"Salesforce emulator latency model: {plan['latency_ms']:g} ms per API call, plus "
              f"{plan['write_record_ms']:g} ms per record written and {plan['query_record_ms']:g} ms per record "
              f"read; Bulk jobs at {plan['bulk_records_per_second']:g} records/s. sfdest serve (salesforce backend) "
              f"over gRPC, {plan['streams']} Applies in flight; {result['seconds']:.0f} s in all.",
              "path: the server's SFDEST_WRITE_PATH: composite (five collections of 200 a call), collections "
              "(one collection a call), bulk (a Bulk API 2.0 job per write); each path's cell on a fresh org.",
              f"calls/rec: {result['counting']}.",
              "base: the replaced system, per event in turn: one query and one single-record write "
              "(create: the write only; delete by Id: the DELETE only; upsert ext id: Salesforce's native "
              "single-record upsert).",
              f"p50/p99: of the Applies in the cell (applies column; p99 only from {200} Applies up); "
              "rec/s: records over the cell's wall time; peak RSS: the server process, reset per cell."]
    if sampled:
        lines.append(f"* baseline ran the first {', '.join(map(str, sorted(sampled)))} events of the cell; "
                     "its rate is extrapolated.")
    return "\n".join(lines)
