"""Calling the servicer in-process, with a context that behaves like a real call's for errors and deadlines."""

from __future__ import annotations

import time
from typing import Any

import grpc


class LocalRpcError(grpc.RpcError):
    """What a remote call would have raised; grpc_status.rpc_status.from_call reads its details."""

    def __init__(self, status: grpc.Status):
        super().__init__(status.details)
        self._status = status

    def code(self) -> grpc.StatusCode:
        return self._status.code

    def details(self) -> str:
        return self._status.details

    def trailing_metadata(self) -> Any:
        return self._status.trailing_metadata


class LocalContext:
    """The part of grpc.ServicerContext the servicer uses."""

    def __init__(self, timeout: float | None = None, metadata: tuple[tuple[str, str], ...] = ()):
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._metadata = metadata
        self.initial_metadata: tuple[tuple[str, str], ...] = ()

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def is_active(self) -> bool:
        return self._deadline is None or time.monotonic() < self._deadline

    def send_initial_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.initial_metadata = metadata

    def abort_with_status(self, status: grpc.Status) -> None:
        raise LocalRpcError(status)
