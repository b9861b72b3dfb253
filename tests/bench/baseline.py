"""The system sfdest replaces, per event in turn: one SOQL lookup and one single-record REST write."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from tests.bench.workload import Op, mapped_fields, matcher_value

_SAFE = "-_.!~*'()"  # encodeURIComponent


def _soql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "\\'") + "'"  # its only escaping (cdp-compatibility §3.7)


class Baseline:
    """create: POST; update/upsert: query, then PATCH the one match (upsert: POST when none); upsert on an
    external id: PATCH /sobjects/{object}/{field}/{value} (Salesforce's native upsert); delete by Id: DELETE. One event after another, no batching, no concurrency (cdp-compatibility §3.3-3.9)."""

    def __init__(self, base_url: str, access_token: str, version: str = "v53.0"):
        self._data = f"{base_url}/services/data/{version}"
        self._client = httpx.Client(headers={"Authorization": f"Bearer {access_token}",
                                             "User-Agent": "Segment (Actions)"}, timeout=60)

    def close(self) -> None:
        self._client.close()

    def run(self, op: Op, payloads: list[dict[str, Any]]) -> int:
        """Process every event; returns how many failed (status >= 300)."""
        return sum(1 for p in payloads if self._one(op, p) >= 300)

    def _one(self, op: Op, payload: dict[str, Any]) -> int:
        sobjects = f"{self._data}/sobjects/{op.object_name}"
        if op.kind == "create":
            return self._client.post(sobjects, json=mapped_fields(op, payload)).status_code
        if op.kind == "delete_by_id":
            return self._client.delete(f"{sobjects}/{matcher_value(op, payload)}").status_code
        if op.native_upsert:  # a careful user of the old system: Salesforce's own upsert, one call per record
            key = quote(str(matcher_value(op, payload)), safe="")
            return self._client.patch(f"{sobjects}/{op.match_field}/{key}", json=mapped_fields(op, payload)).status_code
        # Deliberately the replaced system's query building (quote escaping only), for a like-for-like baseline.
        value = _soql_literal(matcher_value(op, payload))
        soql = f"SELECT Id FROM {op.object_name} WHERE {op.match_field} = {value}"  # noqa: S608
        found = self._client.get(f"{self._data}/query/?q={quote(soql, safe=_SAFE)}")
        if found.status_code >= 300:
            return found.status_code
        records = found.json().get("records", [])
        if len(records) > 1:
            return 300
        if not records:
            if op.kind != "upsert":
                return 404
            return self._client.post(sobjects, json=mapped_fields(op, payload)).status_code
        return self._client.patch(f"{sobjects}/{records[0]['Id']}", json=mapped_fields(op, payload)).status_code
