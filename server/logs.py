"""Structured logs: one JSON object per line on stderr; fields chosen at the call site, one scrubbing choke point."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# These log every request URL at INFO, and a SOQL query URL carries matcher values: keep them quiet.
QUIET_LOGGERS = ("httpx", "httpcore")
# A safety net for messages we do not write ourselves (third-party loggers): whatever looks like a credential.
_SCRUB = (
    (re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----.*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)", re.S),
     "[private key]"),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s,;\"'\\]+"), r"\1\2***"),
    (re.compile(r"(?i)\b(access_token|refresh_token|client_secret|password|security_token|authorization|token|"
                r"assertion|sessionid|sid)(\\?[\"']?\s*[=:]\s*\\?[\"']?)(?!(?:bearer|basic)\s|\*\*\*)"
                r"[^\s,;&\"'\\]+"), r"\1\2***"),
)


def scrub(text: str) -> str:
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def _frames(exc_info: Any) -> list[str]:
    """Where an exception came from, without its message (messages can quote credentials or customer data)."""
    tb = exc_info[2] if exc_info else None
    return [f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)][-12:]


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "msg", ...fields}`; an exception shows its type and frames, never its text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["stack"] = _frames(record.exc_info)
        return scrub(json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":")))


def configure_logging(level: str, replace: bool = True) -> None:
    """Logs go to stderr, one JSON line each (stdout is left to the CLI's results).

    With replace=False, as logging.basicConfig: nothing changes if the root logger already has a handler.
    """
    root = logging.getLogger()
    if replace or not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.handlers[:] = [handler]
        root.setLevel(level)
    quiet_http_loggers()


def quiet_http_loggers() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
