"""One vocabulary of result codes: every code in the one table, no code spelled out anywhere else, the table
as the README documents it, and Salesforce's answers read by core alone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from core import outcomes
from core.codes import Code
from core.model import Outcome, ResultError
from core.names import to_18
from core.outcomes import SUCCESSES, TABLE
from core.ports import RecordRefusal, WriteOutcome
from core.salesforce_answers import read
from core.salesforce_codes import SALESFORCE, meant, oauth_code, status_code

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("core", "adapters", "server")
# The table's own modules, and the replay of a result recorded earlier (core.idempotency).
TABLE_MODULES = {"core/outcomes.py", "core/codes.py", "core/salesforce_codes.py"}
REPLAY = {"core/idempotency.py"}
# The in-memory org speaks Salesforce: its answers name Salesforce's codes (its store reports them as said).
ORG_EMULATION = "adapters/memory/"
# Calls whose first argument (or `code=`) is a result code: by their name, or module and name (the protobuf
# messages of server/translate, pb.*, carry codes already made).
CODE_TAKERS = {"ResultError", "invalid", "fail", "refused", "_Invalid", "outcomes.error", "outcomes.result"}
# Every code hosts saw before the vocabulary was one table: the wire strings are public API.
PUBLISHED = """
INVALID_ACTION INVALID_CROSS_REFERENCE_KEY INVALID_EVENT MATCHER_VALUE_MISSING MATCHER_VALUE_INVALID
MAPPING_VALUE_INVALID INVALID_ID REQUIRED_VALUE_MISSING PICKLIST_VALUE_INVALID CURRENCY_NOT_ENABLED
INVALID_INSTANCE_URL INVALID_CONNECTION MALFORMED_ID MALFORMED_QUERY INVALID_FIELD INVALID_TYPE JSON_PARSER_ERROR
INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST MULTIPLE_MATCHES PARENT_AMBIGUOUS MULTIPLE_DUPLICATES PARENT_NOT_FOUND
NOT_FOUND ENTITY_IS_DELETED DUPLICATE_VALUE DUPLICATES_DETECTED DUPLICATE_EXTERNAL_ID CANNOT_UPDATE_CONVERTED_LEAD
CONVERTED_LEAD UNABLE_TO_LOCK_ROW REQUEST_LIMIT_EXCEEDED API_BUDGET_EXHAUSTED SERVER_UNAVAILABLE UNKNOWN_EXCEPTION
CONNECTION_ERROR TIMEOUT ALL_OR_NONE_OPERATION_ROLLED_BACK DEADLINE_EXCEEDED CANCELLED COORDINATION_UNAVAILABLE
DEPENDS_ON_UNCERTAIN_WRITE OUTCOME_UNKNOWN STALE_EVENT EVENT_TIMESTAMP_MISSING INVALID_SESSION_ID AUTH_FAILED
INVALID_GRANT INVALID_CLIENT API_DISABLED_FOR_ORG API_CURRENTLY_DISABLED INSUFFICIENT_ACCESS
INSUFFICIENT_ACCESS_OR_READONLY INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY BAD_REQUEST FORBIDDEN
METHOD_NOT_ALLOWED URI_TOO_LONG REQUEST_HEADER_FIELDS_TOO_LARGE FEATURENOTENABLED EVENT_IN_PROGRESS EVENT_TAKEN_OVER
BULK_JOB_PENDING
""".split()


# The scan -----------------------------------------------------------------------------------------------
def _name(func: ast.expr) -> str:
    """A call's name as the scan knows it: `f`, `module.f` for outcomes, `f` for another owner but pb."""
    if isinstance(func, ast.Name):
        return func.id
    if not isinstance(func, ast.Attribute):
        return ""
    owner = func.value.id if isinstance(func.value, ast.Name) else ""
    if owner == "pb":
        return ""
    return f"{owner}.{func.attr}" if owner == "outcomes" else func.attr


def _code_arg(call: ast.Call) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "code":
            return kw.value
    return call.args[0] if call.args else None


def violations(source: str, path: str) -> list[str]:
    """Where `source` spells a result code out of the table: a literal code given to a result or error
    constructor, or an EventResult built (status and outcome chosen) outside the table."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        arg = _code_arg(node)
        if name in CODE_TAKERS and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.append(f"{path}:{node.lineno}: {name}({arg.value!r}, ...)")
        if name == "EventResult" and path not in REPLAY:
            found.append(f"{path}:{node.lineno}: EventResult(...) outside the table")
        # An error whose code names one of sfdest's codes by its string (e.g. code="DEADLINE_EXCEEDED").
        if name in CODE_TAKERS and isinstance(arg, ast.JoinedStr):
            found.append(f"{path}:{node.lineno}: {name}(f-string code, ...)")
    return found + _compared(source, path)


def _compared(source: str, path: str) -> list[str]:
    """`x.code == "NOT_FOUND"` (or `in ("NOT_FOUND", ...)`) with a code of the vocabulary spelled out."""
    if path.startswith(ORG_EMULATION) and not path.endswith("/store.py"):
        return []
    found = []
    codes = {c.value for c in Code}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == "code"):
            continue
        for right in node.comparators:
            items = right.elts if isinstance(right, (ast.Tuple, ast.Set, ast.List)) else [right]
            spelled = [i.value for i in items if isinstance(i, ast.Constant) and i.value in codes]
            if spelled:
                found.append(f"{path}:{node.lineno}: .code compared with {spelled}")
    return found


def test_no_result_code_is_spelled_out_of_the_table():
    found = []
    for top in SOURCES:
        for file in sorted((ROOT / top).rglob("*.py")):
            rel = file.relative_to(ROOT).as_posix()
            if rel not in TABLE_MODULES:
                found += violations(file.read_text(encoding="utf-8"), rel)
    assert found == []


@pytest.mark.parametrize("snippet", [
    'ResultError("DEADLINE_EXCEEDED", "too late")',
    'outcomes.error(code="NOT_FOUND")',
    'failure("e1", ResultError("MULTIPLE_MATCHES", "several"))',
    'EventResult("e1", 201, Outcome.CREATED)',
    'write_plan.fail("INVALID_FIELD", "bad name")',
    'if exc.error.code in ("NOT_FOUND", "INVALID_TYPE"): pass',
    'if outcome.error.code == "DUPLICATES_DETECTED": pass',
])
def test_the_scan_finds_a_code_spelled_out(snippet):
    assert violations(snippet, "core/somewhere.py")


def test_the_scan_lets_codes_of_the_vocabulary_and_salesforce_answers_pass():
    ok = 'outcomes.error(Code.NOT_FOUND, "gone")\nRecordRefusal("UNABLE_TO_LOCK_ROW", "locked")\nsaid(refusal)'
    assert violations(ok, "adapters/memory/org.py") == []


# The table ----------------------------------------------------------------------------------------------
def test_every_code_has_its_row_and_is_spelled_as_named():
    assert set(TABLE) == set(Code)
    assert all(code.value == code.name for code in Code)


def test_every_code_hosts_saw_before_is_still_spelled_the_same():
    assert set(PUBLISHED) <= {c.value for c in Code}


def test_every_outcome_is_reachable_from_the_table():
    assert {m.outcome for m in TABLE.values()} == set(Outcome)


def _documented() -> dict[Outcome, list[tuple[set[int], str]]]:
    """The README's result statuses: for each outcome, its statuses and retryable column, row by row; the dry
    runs' outcomes from their sentence."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Result statuses", 1)[1].split("\n\n", 2)[1]
    rows: dict[Outcome, list[tuple[set[int], str]]] = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        statuses = {int(s) for s in re.findall(r"\d{3}", cells[0])}
        for name in re.findall(r"[A-Z_]+", cells[1]):
            rows.setdefault(Outcome[name], []).append((statuses, cells[3]))
    for name, status in re.findall(r"(WOULD_[A-Z]+) \((\d{3})", text):
        rows.setdefault(Outcome[name], []).append(({int(status)}, "-"))
    return rows


def test_the_table_gives_the_statuses_and_retryability_the_readme_documents():
    documented = _documented()
    assert set(documented) == set(Outcome)
    for code, m in TABLE.items():
        rows = [retry for statuses, retry in documented[m.outcome] if m.status in statuses]
        assert rows, f"{code}: {m.status} {m.outcome.name} is not in the README's result statuses"
        retry = rows[0]
        expected = retry.startswith("yes") or (code.value in retry and "yes for" in retry)
        assert m.retryable == expected, f"{code}: retryable {m.retryable}, README says {retry!r}"


def test_successes_carry_no_error_and_failures_their_code():
    created = outcomes.result(Code.CREATED, "e1", record_id="001")
    assert (created.status, created.outcome, created.error, created.record_id) == (201, Outcome.CREATED, None, "001")
    assert SUCCESSES == {Code.CREATED, Code.UPDATED, Code.DELETED, Code.NO_CHANGE, Code.WOULD_CREATE,
                         Code.WOULD_UPDATE, Code.WOULD_DELETE}
    with pytest.raises(ValueError, match="success"):
        outcomes.error(Code.CREATED)
    locked = outcomes.result(Code.UNABLE_TO_LOCK_ROW, "e2", "still locked")
    assert (locked.status, locked.outcome, locked.retryable, locked.error.code) == (
        423, Outcome.ROW_LOCKED, True, "UNABLE_TO_LOCK_ROW")


def test_the_table_words_a_code_and_a_use_adds_its_detail():
    several = outcomes.error(Code.MULTIPLE_MATCHES, "use matchers that identify one record", count=3,
                             object_name="Lead")
    assert several.message == ("3 Lead records match this event; nothing was written; use matchers that identify "
                               "one record")
    assert outcomes.error(Code.NOT_FOUND, "no Lead record matches this event").message == \
        "no Lead record matches this event"


def test_a_code_no_one_knows_is_a_rejection_passed_on_by_name():
    result = outcomes.failure("e1", ResultError("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Amount must be positive"))
    assert (result.status, result.outcome, result.retryable, result.error.code) == (
        422, Outcome.REJECTED, False, "FIELD_CUSTOM_VALIDATION_EXCEPTION")


# Salesforce's answers, read by core -------------------------------------------------------------------------
def test_every_salesforce_code_means_a_code_of_the_table():
    assert all(code in TABLE for code in SALESFORCE.values())
    assert meant("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "Trigger: UNABLE_TO_LOCK_ROW, unable to obtain") \
        is Code.UNABLE_TO_LOCK_ROW
    assert meant("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "Trigger: System.LimitException") is None
    assert (oauth_code("invalid_grant"), oauth_code("unsupported_something")) == (Code.INVALID_GRANT, Code.AUTH_FAILED)
    assert (status_code(504), status_code(418)) == ("TIMEOUT", "HTTP_418")


def _refused(code: str, message: str, fields: tuple[str, ...] = (), ids: tuple[str, ...] = ()) -> WriteOutcome:
    return WriteOutcome(False, refusal=RecordRefusal(code, message, fields), matched_ids=ids)


def test_a_trigger_lock_keeps_salesforces_code_and_means_a_row_lock():
    outcome = read(_refused("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "T: UNABLE_TO_LOCK_ROW, unable to obtain"),
                   "update", "Lead")
    result = outcomes.failure("e1", outcome.error)
    assert (result.error.code, result.status, result.retryable) == ("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", 423, True)


@pytest.mark.parametrize("op,fields,code", [
    ("update", (), "NOT_FOUND"), ("delete", ("Id",), "NOT_FOUND"),
    ("update", ("AccountId",), "INVALID_CROSS_REFERENCE_KEY"),  # a refused lookup value, not a missing record
    ("create", (), "INVALID_CROSS_REFERENCE_KEY"),
])
def test_an_id_that_names_no_record_is_not_found_only_for_its_own_write(op, fields, code):
    outcome = read(_refused("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields), op, "Lead")
    assert outcome.error.code == code


def test_an_upsert_key_several_records_hold_is_multiple_matches_in_the_one_wording():
    ids = (to_18("00QHs00000A1bCd"), to_18("00QHs00000A1bCe"))
    said = f"Ext__c: more than one record found for external id field: [{ids[0]}, {ids[1]}]"
    outcome = read(_refused("DUPLICATE_EXTERNAL_ID", said), "upsert", "Lead", "Ext__c")
    assert (outcome.error.code, outcome.matched_ids, outcome.error.fields) == ("MULTIPLE_MATCHES", ids, ("Ext__c",))
    assert outcome.error.message.startswith("2 Lead records match this event; nothing was written; ")
    # the same code about a parent's key, or about two records of the request, is Salesforce's answer as it came
    parent = read(_refused("DUPLICATE_EXTERNAL_ID", "Foreign key external ID: X matched more than one record"),
                  "upsert", "Lead", "Ext__c")
    twice = read(_refused("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: L-2"), "upsert", "Lead", "Ext__c")
    assert (parent.error.code, twice.error.code) == ("DUPLICATE_EXTERNAL_ID", "DUPLICATE_EXTERNAL_ID")


def test_a_duplicate_value_names_the_field_its_message_names():
    said = f"duplicate value found: Ext__c duplicates value on record with id: {to_18('00QHs00000A1bCd')}"
    assert read(_refused("DUPLICATE_VALUE", said), "create", "Lead").error.fields == ("Ext__c",)
    masked = "duplicate value found: <unknown> duplicates value on record with id: <unknown>"
    assert read(_refused("DUPLICATE_VALUE", masked), "create", "Lead").error.fields == ()
