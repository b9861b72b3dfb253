"""Person Accounts: an Account that is a person, written through the Person Account preset.

The org has them when Account has IsPersonAccount. The preset maps FirstName, LastName and PersonEmail, and
gives new records the person record type (DeveloperName PersonAccount unless the action names another);
Name is never sent (Salesforce builds it from the person's names), so an explicit Name mapping is an error.
"""

from __future__ import annotations

from core.describe import ObjectDescribe
from core.model import Action, Diagnostic, Preset, Severity
from core.paths import ACTION, FIELD_MAPPINGS

PERSON_RECORD_TYPE = "PersonAccount"
PERSON_FLAG = "IsPersonAccount"
NEVER_SENT = "Name"


def is_person(action: Action) -> bool:
    return action.preset is Preset.PERSON_ACCOUNT


def record_type_of(action: Action) -> str:
    """The record type the action creates with: its own, else the person record type for the preset."""
    return action.record_type or (PERSON_RECORD_TYPE if is_person(action) else "")


def exempt_from_required(action: Action) -> frozenset[str]:
    """Fields required to create a business Account that a person account must not have."""
    return frozenset({NEVER_SENT}) if is_person(action) else frozenset()


def static_problems(action: Action) -> list[Diagnostic]:
    if not is_person(action):
        return []
    out = []
    if action.object_name.lower() != "account":
        out.append(Diagnostic(Severity.ERROR, "PRESET_OBJECT_MISMATCH", "the Person Account preset writes "
                              "Account records", ACTION.field("object")))
    for i, m in enumerate(action.field_mappings):
        if m.field.lower() == NEVER_SENT.lower():
            out.append(Diagnostic(Severity.ERROR, "PERSON_ACCOUNT_NAME_MAPPED", "a person account's Name is built "
                                  "by Salesforce from FirstName and LastName and is never sent; map those instead",
                                  FIELD_MAPPINGS.index(i).field("field")))
    return out


def describe_problems(action: Action, describe: ObjectDescribe) -> list[Diagnostic]:
    if is_person(action) and describe.field(PERSON_FLAG) is None:
        return [Diagnostic(Severity.ERROR, "PERSON_ACCOUNTS_NOT_ENABLED", "this org has no Person Accounts "
                           f"(Account has no {PERSON_FLAG})", ACTION.field("preset"))]
    return []
