"""One replica, refresh-token rotation on: the report hands the new refresh token to the host, and the next
token request sends the new one (the old one no longer works)."""

from __future__ import annotations

from core.model import Operation
from core.service import ApplyService
from tests.builders import identify, lead_action
from tests.e2e.salesforce.conftest import refresh_connection

UPSERT = lead_action(Operation.UPSERT)


def test_a_rotated_refresh_token_reaches_the_host_and_is_used_from_then_on(emulator, backend_factory):
    emulator.rotate_refresh_tokens = True
    service = ApplyService(backend_factory())
    conn = refresh_connection(emulator)
    first = service.apply(conn, UPSERT, [identify("e1", email="rot1@example.com")])
    assert first.results[0].status == 201 and first.refresh_token
    assert first.refresh_token in emulator.oauth.refresh_tokens and first.refresh_token not in repr(first)
    emulator.expire_all_tokens()  # the next call needs a new access token: it must refresh with the new token
    second = service.apply(conn, UPSERT, [identify("e2", email="rot2@example.com")])
    assert second.results[0].status == 201 and emulator.token_requests == 2
    assert second.refresh_token and second.refresh_token != first.refresh_token  # rotated again
    assert second.refresh_token in emulator.oauth.refresh_tokens


def test_without_rotation_the_report_carries_no_refresh_token(emulator, backend_factory):
    report = ApplyService(backend_factory()).apply(refresh_connection(emulator), UPSERT,
                                                   [identify("e1", email="plain@example.com")])
    assert report.results[0].status == 201 and report.refresh_token == ""
