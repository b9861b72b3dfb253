"""Event files for the CLI, read lazily: JSON lines stream line by line; a JSON array or one object is read whole."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, BinaryIO

from sfdest.v1 import destination_pb2 as pb


class UsageError(Exception):
    """A problem with the command line or its input files; printed without a traceback."""


def _event(item: Any, fallback_id: str, where: str) -> pb.Event:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: an event must be a JSON object")
    envelope = isinstance(item.get("payload"), dict) and set(item) <= {"id", "payload"}
    payload = item["payload"] if envelope else item
    raw_id = item.get("id") if envelope else item.get("messageId")
    event_id = fallback_id if raw_id in (None, "") else str(raw_id)
    return pb.Event(id=event_id, payload_json=json.dumps(payload, ensure_ascii=False))


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text") from None


def _whole(first: str, first_line: int, rest: Iterator[tuple[int, bytes]], source: str) -> Iterator[pb.Event]:
    text = first + _decode(b"".join(raw for _, raw in rest), source)
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} line {exc.lineno + first_line - 1}: not JSON ({exc.msg})") from None
    if isinstance(whole, dict):
        yield _event(whole, "1", source)
        return
    for i, item in enumerate(whole):
        yield _event(item, str(i + 1), f"{source}[{i}]")


def iter_events(stream: Iterable[bytes], source: str = "events") -> Iterator[pb.Event]:
    """Events from a JSON array, one JSON object, or JSON lines of `{"id", "payload"}` or bare events.

    JSON lines are read one line at a time, so a file of any length takes little memory. A bare
    event's id is its messageId, else its position (line number for JSON lines, from 1).
    """
    lines = enumerate(stream, start=1)
    for n, raw in lines:
        text = _decode(raw, f"{source} line {n}")
        if text.strip():
            break
    else:
        return
    head = text.lstrip()
    if head.startswith("{"):
        try:
            item = json.loads(text)
        except json.JSONDecodeError:
            item = None  # an object spread over several lines
        if item is None:
            yield from _whole(text, n, lines, source)
            return
        yield _event(item, str(n), f"{source} line {n}")
    elif head.startswith("["):
        yield from _whole(text, n, lines, source)
        return
    else:
        yield _json_line(text, n, source)
    for n, raw in lines:
        text = _decode(raw, f"{source} line {n}")
        if text.strip():
            yield _json_line(text, n, source)


def _json_line(text: str, n: int, source: str) -> pb.Event:
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} line {n}: not JSON ({exc.msg})") from None
    return _event(item, str(n), f"{source} line {n}")


def parse_events(text: str, source: str = "events") -> list[pb.Event]:
    """All events of a text, as iter_events reads them."""
    return list(iter_events(io.BytesIO(text.encode("utf-8")), source))


class _Counting:
    """A binary stream's lines, counting the bytes read so far (for the progress line)."""

    def __init__(self, inner: Iterable[bytes]):
        self._inner = inner
        self.read_bytes = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self._inner:
            self.read_bytes += len(line)
            yield line


class EventFile:
    """The events of a file (or "-", stdin), read lazily in batches; `fraction` tells how far it got."""

    def __init__(self, path: str):
        self.path = path
        self.size: int | None = None
        self._counting: _Counting | None = None

    def batches(self, size: int) -> Iterator[list[pb.Event]]:
        stream = self._open()
        try:
            self._counting = _Counting(stream)
            events = iter_events(self._counting, self.path)
            while batch := list(islice(events, size)):
                yield batch
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    @property
    def fraction(self) -> float | None:
        if not self.size or self._counting is None:
            return None
        return min(1.0, self._counting.read_bytes / self.size)

    def _open(self) -> BinaryIO:
        if self.path == "-":
            return sys.stdin.buffer
        try:
            stream = open(self.path, "rb")  # closed by batches()
            self.size = os.fstat(stream.fileno()).st_size or None
        except OSError as exc:
            raise UsageError(f"{self.path}: {exc.strerror or exc}") from None
        return stream
