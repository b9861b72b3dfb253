"""An action's write options as Salesforce's REST headers (the memory org reads the same headers)."""

from __future__ import annotations

from core.model import ASSIGNMENT_DEFAULT, ASSIGNMENT_NONE
from core.ports import WriteOptions

DUPLICATE_RULE_HEADER = "Sforce-Duplicate-Rule-Header"
AUTO_ASSIGN_HEADER = "Sforce-Auto-Assign"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def headers_for(options: WriteOptions) -> dict[str, str]:
    """Sforce-Duplicate-Rule-Header, and Sforce-Auto-Assign (TRUE: the default rule, FALSE: none, or a rule id)."""
    headers: dict[str, str] = {}
    dup = options.duplicate_rule
    if dup is not None:
        headers[DUPLICATE_RULE_HEADER] = (f"allowSave={_flag(dup.allow_save)}, includeRecordDetails="
                                          f"{_flag(dup.include_record_details)}, runAsCurrentUser="
                                          f"{_flag(dup.run_as_current_user)}")
    rule = options.assignment_rule
    if rule:
        headers[AUTO_ASSIGN_HEADER] = {ASSIGNMENT_DEFAULT: "TRUE", ASSIGNMENT_NONE: "FALSE"}.get(rule, rule)
    return headers
