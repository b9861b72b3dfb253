"""Bulk API 2.0 CSV: parse uploads (RFC 4180), apply rows to the Org, and write the result CSVs."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.memory.org import Org
from adapters.memory.results import OrgError, SaveResult, failed
from tools.emulator.bulk_values import stored_cell
from tools.emulator.save_results import in_collection

if TYPE_CHECKING:
    from tools.emulator.bulk import Job

DELIMITERS = {"COMMA": ",", "BACKQUOTE": "`", "CARET": "^", "PIPE": "|", "SEMICOLON": ";", "TAB": "\t"}
NULL = "#N/A"


@dataclass
class Outcome:
    header: list[str] = field(default_factory=list)
    successful: list[tuple[str, bool, list[str]]] = field(default_factory=list)  # (sf__Id, sf__Created, row)
    failed: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (sf__Id, sf__Error, row)
    unprocessed: list[list[str]] = field(default_factory=list)
    error: str = ""

    @property
    def processed(self) -> int:
        return len(self.successful) + len(self.failed)


def _rows(job: Job) -> tuple[list[str], list[list[str]], str]:
    """The header, every data row of every upload, and a job-level error ('' when the data is usable)."""
    header: list[str] = []
    rows: list[list[str]] = []
    for text in job.uploads:
        first_line = text.split("\n", 1)[0]
        if (job.line_ending == "LF") == first_line.endswith("\r"):
            return header, rows, (f"ClientInputError : LineEnding is invalid on user data. Current LineEnding "
                                  f"setting is {job.line_ending}")
        parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter], strict=True))
        if not parsed:
            continue
        if header and [h.lower() for h in parsed[0]] != [h.lower() for h in header]:
            return header, rows, "InvalidBatch : every upload of a job must have the same header"
        header = parsed[0]
        rows.extend(r for r in parsed[1:] if r)
    return header, rows, ""


def _header_error(org: Org, job: Job, header: list[str]) -> str:
    describe = org.describe(job.object)
    for name in header:
        if "." not in name and describe.field(name) is None:  # relationship columns are resolved per row
            return f"InvalidBatch : Field name not found : {name}"
    lowered = [h.lower() for h in header]
    needed = {"upsert": job.external_id, "update": "Id", "delete": "Id", "hardDelete": "Id"}.get(job.operation)
    if needed and needed.lower() not in lowered:
        return f"InvalidBatch : Field name not found : {needed}"
    return ""


def _fields(header: list[str], row: list[str]) -> dict[str, Any]:
    """Empty cells leave a field unchanged; #N/A sets it to null. A relationship column (Account.External_Id__c,
    or Account:What.External_Id__c for a polymorphic lookup) becomes a relationship reference."""
    record: dict[str, Any] = {}
    for name, value in zip(header, row, strict=False):
        if value == "":
            continue
        cell = None if value == NULL else value
        if "." in name:
            path, key = name.rsplit(".", 1)
            kind, _, relationship = path.rpartition(":")
            record[relationship] = {**({"attributes": {"type": kind}} if kind else {}), key: cell}
        else:
            record[name] = cell
    return record


def _error_text(result: SaveResult) -> str:
    e = result.errors[0]
    return f"{e.code}:{e.message}:{','.join(e.fields)} --" if e.fields else f"{e.code}:{e.message}:--"


def _apply(org: Org, job: Job, header: list[str], rows: list[list[str]]) -> list[SaveResult]:
    records = [_fields(header, row) for row in rows]
    if job.operation == "upsert":
        return org.upsert_many(job.object, job.external_id, records)
    out = []
    for record in records:
        rid = next((v for k, v in record.items() if k.lower() == "id"), None)
        try:
            if job.operation == "insert":
                out.append(org.create(job.object, record))
            elif not rid:
                out.append(failed("MISSING_ARGUMENT", "Id not specified in an update call", ("Id",)))
            elif job.operation == "update":
                out.append(org.update(job.object, rid, {k: v for k, v in record.items() if k.lower() != "id"}))
            elif job.operation == "hardDelete":
                out.append(org.hard_delete(job.object, rid))
            else:
                out.append(org.delete(job.object, rid))
        except OrgError as exc:
            out.append(failed(exc.code, exc.message, exc.fields, rid or ""))
    return out


def process(org: Org, job: Job, rng: random.Random) -> Outcome:
    """Apply a closed job's rows; result rows come out shuffled, as Salesforce gives no order."""
    try:
        header, rows, error = _rows(job)
    except csv.Error as exc:
        return Outcome(error=f"ClientInputError : the CSV could not be parsed: {exc}")
    if header and not error:
        error = _header_error(org, job, header)
    outcome = Outcome(header=header, error=error)
    if error:
        outcome.unprocessed = rows
        return outcome
    for row, result in zip(rows, _apply(org, job, header, rows), strict=True):
        result = in_collection(result)
        rid = result.id or ""
        if result.success:
            outcome.successful.append((rid, job.operation == "insert" or result.created,
                                       _as_stored(org, job, header, row, rid)))
        else:
            outcome.failed.append((rid if job.operation != "insert" else "", _error_text(result), row))
    rng.shuffle(outcome.successful)
    rng.shuffle(outcome.failed)
    return outcome


def _as_stored(org: Org, job: Job, header: list[str], row: list[str], rid: str) -> list[str]:
    """A successful row's cells as the org stored them (a deleted record's as uploaded); empty stays empty."""
    if job.operation in ("delete", "hardDelete"):
        return row
    describe = org.describe(job.object)
    fields = [describe.field(name) for name in header]
    try:
        stored = org.get(job.object, rid, [f.name for f in fields if f is not None])
    except OrgError:
        return row
    return [stored_cell(f, stored.get(f.name)) if f is not None and text != "" else text
            for f, text in zip(fields, row, strict=False)]


def _quoted(values: list[str], delimiter: str) -> str:
    return delimiter.join('"' + v.replace('"', '""') + '"' for v in values)


def result_csv(job: Job, kind: str) -> str:
    """successfulResults, failedResults or unprocessedrecords as Salesforce writes them."""
    outcome = job.outcome or Outcome(header=[], unprocessed=[])
    if job.state == "Aborted" and job.outcome is None:
        outcome = process_aborted(job)
    d = DELIMITERS[job.delimiter]
    eol = "\r\n" if job.line_ending == "CRLF" else "\n"
    plain_header = d.join(outcome.header)
    if kind == "successfulResults":
        lines = [d.join(['"sf__Id"', '"sf__Created"', plain_header])]
        lines += [_quoted([rid, "true" if created else "false", *row], d) for rid, created, row in outcome.successful]
    elif kind == "failedResults":
        lines = [d.join(['"sf__Id"', '"sf__Error"', plain_header])]
        lines += [_quoted([rid, error, *row], d) for rid, error, row in outcome.failed]
    else:
        lines = [plain_header] + [_quoted(row, d) for row in outcome.unprocessed]
    return eol.join(lines) + eol


def process_aborted(job: Job) -> Outcome:
    try:
        header, rows, _ = _rows(job)
    except csv.Error:
        return Outcome()
    return Outcome(header=header, unprocessed=rows)
