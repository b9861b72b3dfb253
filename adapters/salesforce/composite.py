"""The Composite resource: up to five collections or queries in ONE API call, each answered on its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.salesforce.retry import Attempts
from adapters.salesforce.transport import Session, refusal_of
from core import outcomes
from core.codes import Code
from core.model import ResultError
from core.ports import BackendError, RecordRefusal

MAX_SUBREQUESTS = 25
MAX_COLLECTIONS_OR_QUERIES = 5  # per Composite call; every subrequest sfdest sends is one of these


@dataclass(frozen=True)
class Sub:
    """One subrequest: a data API request with a full URL under the session's data URL."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] | None = None  # the subrequest's own headers (an action's write options)


def sub_error(status: int, body: Any, idempotent: bool = True) -> RecordRefusal | ResultError:
    """What Salesforce said to a subrequest answered 4xx/5xx (`[{"errorCode", "message", "fields"}]`). A write
    that is not idempotent and failed while being processed (500, 504) may have been applied: OUTCOME_UNKNOWN."""
    refusal = refusal_of(status, body)
    if not idempotent and status in (500, 504) and refusal.code != Code.SERVER_UNAVAILABLE:
        return outcomes.error(Code.OUTCOME_UNKNOWN, f"Salesforce failed while processing the request "
                              f"({refusal.code}: {refusal.message[:200]}); it may have written these records, so "
                              "they were not sent again: check before retrying")
    return refusal


def send(session: Session, subs: list[Sub], idempotent: bool, attempts: Attempts | None = None
         ) -> list[tuple[int, Any]]:
    """One Composite call with allOrNone false (a refused subrequest never rolls back its neighbours) and
    no collation (subrequests run in order); (httpStatusCode, body) per subrequest, in order.

    Raises BackendError when the call fails as a whole or its answer cannot be tied back.
    """
    if not subs or len(subs) > MAX_COLLECTIONS_OR_QUERIES:
        raise ValueError(f"a Composite call carries 1 to {MAX_COLLECTIONS_OR_QUERIES} subrequests, not {len(subs)}")
    request = []
    for n, sub in enumerate(subs):
        if not sub.url.startswith(session.data_url + "/"):
            raise ValueError("a subrequest URL must be under the session's data URL")
        entry: dict[str, Any] = {"method": sub.method, "url": sub.url[len(session.base_url):], "referenceId": f"r{n}"}
        if sub.body is not None:
            entry["body"] = sub.body
        if sub.headers:
            entry["httpHeaders"] = dict(sub.headers)
        request.append(entry)
    _, body = session.json("POST", f"{session.data_url}/composite",
                           {"allOrNone": False, "collateSubrequests": False, "compositeRequest": request}, idempotent,
                           attempts)
    entries = body.get("compositeResponse") if isinstance(body, dict) else None
    answers: dict[Any, dict[str, Any]] = ({e.get("referenceId"): e for e in entries if isinstance(e, dict)}
                                          if isinstance(entries, list) else {})
    out = []
    for n in range(len(subs)):
        entry = answers.get(f"r{n}") or {}
        status = entry.get("httpStatusCode")
        if not isinstance(status, int):
            code = Code.UNKNOWN_EXCEPTION if idempotent else Code.OUTCOME_UNKNOWN
            raise BackendError(outcomes.error(code, "Salesforce answered the Composite request with a result that "
                                           "does not name every subrequest; it may or may not have written these "
                                           "records"))
        out.append((status, entry.get("body")))
    return out
