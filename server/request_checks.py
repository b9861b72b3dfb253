"""Checks of a request's shape before any work: a connection, an action, events with unique ids, within limits.
Each problem names its place in the request (printed here, at the edge, for google.rpc BadRequest)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sfdest.v1 import destination_pb2 as pb

from core.paths import ACTION, CONNECTION, Path
from server.errors import Violation

_MAX_SHOWN_ID = 64
_EVENTS = Path.root("events")
_SAMPLE_EVENTS = Path.root("sample_events")


def _violation(path: Path, description: str) -> Violation:
    return Violation(str(path), description)


def _shown(event_id: str) -> str:
    return repr(event_id if len(event_id) <= _MAX_SHOWN_ID else event_id[:_MAX_SHOWN_ID] + "...")


def _event_id_problems(events: Iterable[pb.Event]) -> list[Violation]:
    seen: dict[str, int] = {}
    out = []
    for i, e in enumerate(events):
        where = _EVENTS.index(i).field("id")
        if not e.id:
            out.append(_violation(where, "must not be empty: results are matched to events by id"))
        elif e.id in seen:
            out.append(_violation(where, f"duplicates {_EVENTS.index(seen[e.id]).field('id')} ({_shown(e.id)})"))
        else:
            seen[e.id] = i
    return out


def _connection_problems(request: Any, required: bool) -> list[Violation]:
    if not request.HasField("connection"):
        return [_violation(CONNECTION, "a connection is required")] if required else []
    if not request.connection.instance_url.strip():
        return [_violation(CONNECTION.field("instance_url"), "must not be empty")]
    return []


def erase_violations(request: pb.EraseRequest) -> list[Violation]:
    return _connection_problems(request, required=True)


def _events_problems(events: Sequence[pb.Event], max_events: int, per: str = "call") -> list[Violation]:
    n = len(events)
    if n > max_events:
        return [_violation(_EVENTS, f"at most {max_events} events per {per}; got {n} (split the batch)")]
    return _event_id_problems(events)


def apply_violations(request: pb.ApplyRequest, max_events: int) -> list[Violation]:
    out = _connection_problems(request, required=True)
    if not request.HasField("action"):
        out.append(_violation(ACTION, "an action is required"))
    if not request.events:
        out.append(_violation(_EVENTS, "at least one event is required"))
    else:
        out.extend(_events_problems(request.events, max_events))
    return out


def stream_violations(message: pb.ApplyStreamRequest, first: bool, max_events: int) -> list[Violation]:
    """One ApplyStream message: the first names the connection and the action (as Apply's request does),
    later ones only carry events; each message holds at most max_events, with ids unique within it."""
    if first:
        out = _connection_problems(message, required=True)
        if not message.HasField("action"):
            out.append(_violation(ACTION, "an action is required"))
    else:
        later = [name for name in ("connection", "action") if message.HasField(name)]
        out = [_violation(Path.root(name), "only the stream's first message may set it")
               for name in [*later, *(["dry_run"] if message.dry_run else [])]]
    return out + _events_problems(message.events, max_events, "message")


def stream_end_violations(events: int) -> list[Violation]:
    return [] if events else [_violation(_EVENTS, "at least one event is required (in any message)")]


def validate_violations(request: pb.ValidateRequest, max_events: int) -> list[Violation]:
    out = []
    if not request.HasField("action"):
        out.append(_violation(ACTION, "an action is required"))
    out.extend(_connection_problems(request, required=False))
    if len(request.sample_events) > max_events:
        out.append(_violation(_SAMPLE_EVENTS, f"at most {max_events} sample events; "
                              f"got {len(request.sample_events)}"))
    return out
