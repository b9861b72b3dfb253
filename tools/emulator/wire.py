"""Request and reply values of the emulator, and Salesforce-shaped error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    raw_uri: str = ""
    host: str = ""
    # Whether the client has closed its connection (the HTTP server sets it; a built request never is).
    gone: Callable[[], bool] = field(default=lambda: False, repr=False, compare=False)

    @classmethod
    def build(cls, method: str, uri: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, query = uri.partition("?")
        return cls(method, path, parse_qs(query, keep_blank_values=True), headers, body, uri,
                   headers.get("host", ""))

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The JSON body; 415 when the request says it is something else, JSON_PARSER_ERROR when it is no JSON."""
        ctype = self.header("content-type").split(";")[0].strip().lower()
        if ctype and ctype != "application/json":
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"MediaType of '{ctype}' is not supported by this resource")
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the socket without answering
    trickle: float = 0.0  # seconds between the body's bytes (a slow org); 0 sends it at once

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain;charset=UTF-8") -> Reply:
        return cls(status, text.encode(), {"Content-Type": content_type})

    @classmethod
    def empty(cls, status: int = 204) -> Reply:
        return cls(status)

    @classmethod
    def dropped(cls) -> Reply:
        return cls(0, drop=True)


def error_body(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    """A top-level REST error array (`errorCode`)."""
    entry: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        entry["fields"] = list(fields)
    return [entry]


class ApiError(Exception):
    """Raised by a handler to answer with a top-level Salesforce error array."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def reply(self) -> Reply:
        return Reply.json(self.status, error_body(self.code, self.message, self.fields))


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)
