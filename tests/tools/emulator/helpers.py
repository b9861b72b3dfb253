"""Small helpers shared by the emulator tests."""

from __future__ import annotations

from typing import Any

import httpx

V = "/services/data/v66.0"


def query(api: httpx.Client, soql: str, **headers: str) -> httpx.Response:
    return api.get(f"{V}/query", params={"q": soql}, headers=headers)


def error_code(response: httpx.Response) -> str:
    return response.json()[0]["errorCode"]


def lead(**fields: Any) -> dict[str, Any]:
    return {"LastName": "Ng", "Company": "Acme", **fields}
