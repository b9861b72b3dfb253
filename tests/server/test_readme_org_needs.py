"""The README's "What real orgs need" examples, command for command, against a served in-memory org."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.server.serving import start_server, stop_server
from tests.server.test_readme_example import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    served = start_server()
    try:
        yield served.port
    finally:
        stop_server(served)


def sfdest_apply(port: int, action: str, events: str, *extra: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "apply", "--target", f"127.0.0.1:{port}", "--action",
         str(EXAMPLES / action), str(EXAMPLES / events), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_picklist_example_writes_the_good_event_and_names_the_bad_value(port):
    good, bad = sfdest_apply(port, "subscription-picklists.json", "subscription-events.jsonl")
    assert (good["event_id"], good["status"]) == ("sub-1", 201)
    assert (bad["event_id"], bad["status"], bad["error"]["code"]) == ("sub-2", 400, "PICKLIST_VALUE_INVALID")
    assert ("'Diamond' is not allowed in the restricted picklist Tier__c; allowed values: Bronze, Silver, Gold"
            in bad["error"]["message"])


def test_parent_key_example_links_the_case_and_names_the_missing_parent(port):
    [contact] = sfdest_apply(port, "contact-create.json", "identify-ann.jsonl")
    linked, lost = sfdest_apply(port, "case-by-contact-email.json", "case-events.jsonl")
    assert contact["status"] == 201 and linked["status"] == 201
    assert (lost["status"], lost["error"]["code"], lost["error"]["fields"]) == (422, "PARENT_NOT_FOUND", ["ContactId"])
    assert "Contact" in lost["error"]["message"] and "nobody@example.com" not in lost["error"]["message"]


def sfdest_validate(port: int, action: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "validate", "--target", f"127.0.0.1:{port}", "--connection",
         str(EXAMPLES / "memory-connection.json"), "--action", str(EXAMPLES / action)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_record_type_example_names_the_missing_record_type(port):
    [result] = sfdest_apply(port, "account-record-type.json", "identify-ann.jsonl")
    assert (result["status"], result["error"]["code"]) == (400, "INVALID_ACTION")
    done = sfdest_validate(port, "account-record-type.json")
    assert done.returncode == 1
    assert "RECORD_TYPE_NOT_FOUND" in done.stdout and "action.record_type" in done.stdout
    assert "Account has no active record type Partner (active: none)" in done.stdout


def test_write_rules_example_creates_the_lead(port):
    [result] = sfdest_apply(port, "lead-create-rules.json", "identify-ann.jsonl")
    assert (result["event_id"], result["status"]) == ("evt-1", 201)


def test_currency_example_is_an_error_in_a_single_currency_org(port):
    done = sfdest_validate(port, "opportunity-currency.json")
    assert done.returncode == 1
    assert "CURRENCY_NOT_ENABLED" in done.stdout and "action.field_mappings[4].field" in done.stdout


def test_person_account_example_needs_an_org_with_person_accounts(port):
    done = sfdest_validate(port, "person-account-upsert.json")
    assert done.returncode == 1 and "PERSON_ACCOUNTS_NOT_ENABLED" in done.stdout
