"""Log lines: JSON with the call's fields; exceptions by type and frames only; credentials scrubbed at the end."""

from __future__ import annotations

import json
import logging
import sys

from server.logs import JsonFormatter, scrub


def _record(msg: str, *args, fields=None, exc_info=None) -> logging.LogRecord:
    record = logging.LogRecord("sfdest.rpc", logging.INFO, __file__, 1, msg, args, exc_info)
    if fields is not None:
        record.fields = fields
    return record


def test_a_line_is_one_json_object_with_the_call_fields():
    line = JsonFormatter().format(_record("%s %s", "Apply", "OK", fields={"request_id": "r-1", "events": 3}))
    assert "\n" not in line
    parsed = json.loads(line)
    assert (parsed["msg"], parsed["level"], parsed["logger"]) == ("Apply OK", "INFO", "sfdest.rpc")
    assert (parsed["request_id"], parsed["events"]) == ("r-1", 3)
    assert parsed["time"].endswith("Z")


def test_fields_cannot_overwrite_the_standard_keys():
    parsed = json.loads(JsonFormatter().format(_record("real", fields={"msg": "forged", "level": "DEBUG"})))
    assert (parsed["msg"], parsed["level"]) == ("real", "INFO")


def test_an_exception_shows_its_type_and_frames_never_its_message():
    try:
        raise RuntimeError("refresh_token=rt-live-123 for ada@example.com")
    except RuntimeError:
        line = JsonFormatter().format(_record("failed", exc_info=sys.exc_info()))
    parsed = json.loads(line)
    assert parsed["exception"] == "RuntimeError"
    assert any("test_logs.py" in frame for frame in parsed["stack"])
    assert "rt-live-123" not in line and "ada@example.com" not in line


def test_what_looks_like_a_credential_is_scrubbed_from_any_message():
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----"
    text = (f"authorization: Bearer abc.def.ghi client_secret=s3cr3t {{'password': 'hunter2'}} "
            f"access_token\":\"00D!AQ token=tok9 {pem} done")
    cleaned = scrub(text)
    for secret in ("abc.def.ghi", "s3cr3t", "hunter2", "00D!AQ", "tok9", "MIIEvQIBADANBgkq"):
        assert secret not in cleaned
    assert cleaned.endswith("done") and "Bearer ***" in cleaned


def test_third_party_messages_with_credentials_are_scrubbed_in_the_line():
    line = JsonFormatter().format(_record("sending %s", "Authorization: Bearer eyJhbGciOi.payload.sig"))
    assert "eyJhbGciOi" not in line and json.loads(line)["msg"] == "sending Authorization: Bearer ***"
