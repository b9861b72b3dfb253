"""Serving beyond loopback without TLS or caller authentication, and settings that will not do what they say,
are called out at start."""

from __future__ import annotations

import json
import time

from grpc_health.v1 import health_pb2

from tests.server.serving import start_server, stop_server
from tests.server.test_end_to_end import health_status


def warnings_in(served, expected: int) -> list[str]:
    """The WARNING messages the server logged, waiting (bounded) for `expected` of them to arrive."""
    give_up = time.monotonic() + 30  # a safety net, not a measurement
    while True:
        found = [json.loads(line)["msg"] for line in list(served.log) if '"WARNING"' in line]
        if len(found) >= expected or time.monotonic() > give_up:
            return found
        time.sleep(0.05)


def test_plaintext_and_unauthenticated_on_a_public_address_are_warned_about():
    served = start_server({"SFDEST_LISTEN": "0.0.0.0:0"}, listening_host=r"0\.0\.0\.0")
    try:
        warnings = warnings_in(served, 2)
    finally:
        stop_server(served)
    assert any("plaintext" in w for w in warnings)
    assert any("no caller authentication" in w for w in warnings)


def test_loopback_is_not_warned_about():
    served = start_server()
    try:
        # start-up warnings are logged before the server answers its first call
        assert health_status(served.channel, "") == health_pb2.HealthCheckResponse.SERVING
        assert not [line for line in served.log if '"WARNING"' in line]
    finally:
        stop_server(served)


def test_a_per_org_cap_above_what_the_workers_allow_is_warned_about_with_the_value_in_force():
    served = start_server({"SFDEST_MAX_APPLIES_PER_ORG": "20", "SFDEST_MAX_WORKERS": "16"})
    try:
        warnings = warnings_in(served, 1)
    finally:
        stop_server(served)
    assert [w for w in warnings if "SFDEST_MAX_APPLIES_PER_ORG=20 is lowered to 12" in w
            and "SFDEST_MAX_WORKERS=16" in w], warnings
