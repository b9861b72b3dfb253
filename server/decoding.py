"""Requests gRPC could not decode: caught in the deserializer so the call answers INVALID_ARGUMENT, not INTERNAL.

A deserializer that raises makes grpcio answer INTERNAL and keep the stream's state on the connection
(after about 100 such calls every later call on it fails); one that never raises avoids both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from server import errors

# protobuf refuses messages nested more than 100 deep; a Struct level costs 3 (Struct, map entry, Value).
_STRUCT_DEPTH_HINT = ("a payload Struct nested about 32 levels or more cannot be decoded by protobuf: send deeply "
                      "nested events as payload_json (JSON text) instead")

_CARRY_EVENTS = ("Apply", "Validate", "ApplyStream")


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request whose bytes did not decode; the handler refuses it."""

    size: int
    reason: str


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`deserializer`, returning Undecodable instead of raising."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, RecursionError, ValueError) as exc:
            return Undecodable(len(data), type(exc).__name__ if isinstance(exc, RecursionError) else str(exc))

    return deserialize


def refusal(method: str, request: Undecodable) -> errors.RequestFault:
    """INVALID_ARGUMENT for an undecodable request, naming the problem (and, for events, what to send instead)."""
    reason = request.reason[:200] or "not a valid protobuf message"
    message = f"the {method} request ({request.size} bytes) could not be decoded: {reason}"
    if method not in _CARRY_EVENTS:
        return errors.RequestFault("MALFORMED_REQUEST", message)
    return errors.RequestFault("MALFORMED_REQUEST", f"{message}; {_STRUCT_DEPTH_HINT}",
                               (errors.Violation("events.payload", _STRUCT_DEPTH_HINT),))
