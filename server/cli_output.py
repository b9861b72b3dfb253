"""What the CLI prints: one JSON result per event, the progress line, the summary table and diagnostics."""

from __future__ import annotations

from collections import Counter
from typing import Any, TextIO

from sfdest.v1 import destination_pb2 as pb

from server import translate


def result_json(r: pb.EventResult) -> dict[str, Any]:
    error = {"code": r.error.code, "message": r.error.message, "fields": list(r.error.fields)} \
        if r.HasField("error") else None
    if error is not None and r.error.field_problems:
        error["field_problems"] = [{"field": p.field, "path": p.path, "hint": p.hint} for p in r.error.field_problems]
    return {"event_id": r.event_id, "status": r.status, "outcome": translate.outcome_name(r.outcome),
            "record_id": r.record_id, "matched_ids": list(r.matched_ids), "retryable": r.retryable, "error": error}


class Tally:
    """Results of every batch so far, by status and outcome."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, str]] = Counter()
        self.events = 0
        self.batches = 0
        self.api_calls = 0
        self.diagnostics: dict[str, None] = {}  # the action's problems, each printed once however many batches

    def add(self, response: pb.ApplyResponse) -> None:
        self.diagnostics.update((diagnostic_line(d), None) for d in response.diagnostics)
        self.counts.update((r.status, translate.outcome_name(r.outcome)) for r in response.results)
        self.events += len(response.results)
        self.batches += 1
        self.api_calls += response.salesforce_api_calls

    @property
    def failed(self) -> int:
        return sum(n for (status, _), n in self.counts.items() if status >= 300)

    def table(self) -> str:
        rows = [("status", "outcome", "events")]
        rows += [(str(s), o, f"{n:,}") for (s, o), n in sorted(self.counts.items())]
        rows.append(("total", "", f"{self.events:,}"))
        lines = list(self.diagnostics) + [f"{a:<7} {b:<18} {c:>8}" for a, b, c in rows]
        lines.append(f"batches: {self.batches}, salesforce api calls: {self.api_calls:,}")
        return "\n".join(lines)


class Progress:
    """A progress line on stderr: rewritten in place on a terminal, one line per batch otherwise."""

    def __init__(self, out: TextIO, enabled: bool):
        self._out = out
        self._enabled = enabled
        self._tty = enabled and out.isatty()
        self._open = False

    def update(self, tally: Tally, fraction: float | None) -> None:
        if not self._enabled:
            return
        where = f" ({fraction:.0%} of the file)" if fraction is not None else ""
        line = (f"sfdest: {tally.events:,} events in {tally.batches} batch{'es' if tally.batches != 1 else ''}, "
                f"{tally.failed:,} not ok{where}")
        if self._tty:
            self._out.write(f"\r{line}\x1b[K")
            self._open = True
        else:
            self._out.write(line + "\n")
        self._out.flush()

    def done(self) -> None:
        if self._open:
            self._out.write("\n")
            self._out.flush()
            self._open = False


def diagnostic_line(d: pb.Diagnostic) -> str:
    return f"{translate.severity_name(d.severity):<8} {d.code:<28} {d.field_path or '-':<36} {d.message}"


def diagnostics_text(response: pb.ValidateResponse) -> str:
    lines = [diagnostic_line(d) for d in response.diagnostics]
    severities = Counter(translate.severity_name(d.severity) for d in response.diagnostics)
    verdict = "valid" if response.valid else "invalid"
    lines.append(f"{verdict}: {severities['ERROR']} error(s), {severities['WARNING']} warning(s)")
    return "\n".join(lines)
