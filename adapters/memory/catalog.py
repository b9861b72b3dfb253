"""The standard org's objects: describe metadata with the flags real Salesforce reports."""

from __future__ import annotations

from typing import Any

from adapters.memory.describe_json import describe_from_json, describe_json, global_describe_json
from adapters.memory.field_facts import OTHER_KEY_PREFIXES
from core.describe import FieldDescribe, ObjectDescribe


def _field(name: str, type_: str, label: str, length: int = 0, **flags: Any) -> FieldDescribe:
    return FieldDescribe(name, type_, label, length, **flags)


def _text(name: str, label: str, length: int, type_: str = "string", **flags: Any) -> FieldDescribe:
    return FieldDescribe(name, type_, label, length, **flags)


def _required(name: str, type_: str, label: str, length: int = 0) -> FieldDescribe:
    return FieldDescribe(name, type_, label, length, nillable=False)


def _boolean(name: str, label: str, writable: bool = True) -> FieldDescribe:
    # Checkboxes are never null: non-nillable, but defaulted to false, hence not required.
    return FieldDescribe(name, "boolean", label, nillable=False, defaulted_on_create=True,
                         createable=writable, updateable=writable)


def _read_only(name: str, type_: str, label: str, length: int = 0, **flags: Any) -> FieldDescribe:
    return FieldDescribe(name, type_, label, length, createable=False, updateable=False, **flags)


def _system(object_label: str) -> tuple[FieldDescribe, ...]:
    return (
        _read_only("Id", "id", f"{object_label} ID", 18, nillable=False, defaulted_on_create=True, id_lookup=True),
        _field("OwnerId", "reference", "Owner ID", 18, nillable=False, defaulted_on_create=True),
    )


def _audit() -> tuple[FieldDescribe, ...]:
    return (
        _read_only("CreatedDate", "datetime", "Created Date", nillable=False, defaulted_on_create=True),
        _read_only("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, defaulted_on_create=True),
    )


def _address(prefix: str = "", label: str = "") -> tuple[FieldDescribe, ...]:
    space = f"{label} " if label else ""
    return (
        _text(f"{prefix}Street", f"{space}Street", 255, "textarea"),
        _text(f"{prefix}City", f"{space}City", 40),
        _text(f"{prefix}State", f"{space}State/Province", 80),
        _text(f"{prefix}PostalCode", f"{space}Zip/Postal Code", 20),
        _text(f"{prefix}Country", f"{space}Country", 80),
    )


def _description() -> FieldDescribe:
    # Long text areas cannot appear in WHERE: Salesforce reports them filterable=false.
    return _text("Description", "Description", 32000, "textarea", filterable=False)


def _person_name() -> tuple[FieldDescribe, ...]:
    return (
        _text("FirstName", "First Name", 40),
        _required("LastName", "string", "Last Name", 80),
        _read_only("Name", "string", "Full Name", 121),
    )


def _email(name: str = "Email", label: str = "Email", lookup: bool = True) -> FieldDescribe:
    # Email on Lead and Contact is an idLookup field (usable as an upsert key) without being an external id.
    return _text(name, label, 80, "email", id_lookup=lookup)


LEAD = ObjectDescribe("Lead", "00Q", label="Lead", fields=(
    *_system("Lead"), *_person_name(),
    _required("Company", "string", "Company", 255),
    _text("Title", "Title", 128), _email(), _text("Phone", "Phone", 40, "phone"),
    _text("MobilePhone", "Mobile Phone", 40, "phone"), _text("Website", "Website", 255, "url"),
    *_address(),
    _field("Status", "picklist", "Status", 255, nillable=False, defaulted_on_create=True),
    _text("LeadSource", "Lead Source", 255, "picklist"), _text("Industry", "Industry", 255, "picklist"),
    _field("AnnualRevenue", "currency", "Annual Revenue"), _field("NumberOfEmployees", "int", "Employees"),
    _description(), _boolean("IsConverted", "Converted", writable=False), *_audit(),
))

CONTACT = ObjectDescribe("Contact", "003", label="Contact", fields=(
    *_system("Contact"), _field("AccountId", "reference", "Account ID", 18), *_person_name(),
    _text("Title", "Title", 128), _email(), _text("Phone", "Business Phone", 40, "phone"),
    _text("MobilePhone", "Mobile Phone", 40, "phone"), *_address("Mailing", "Mailing"),
    _field("Birthdate", "date", "Birthdate"), _text("LeadSource", "Lead Source", 255, "picklist"),
    _boolean("HasOptedOutOfEmail", "Email Opt Out"), _description(), *_audit(),
))

ACCOUNT = ObjectDescribe("Account", "001", label="Account", fields=(
    *_system("Account"),
    FieldDescribe("Name", "string", "Account Name", 255, nillable=False, id_lookup=True),
    _text("AccountNumber", "Account Number", 40), _text("Type", "Account Type", 255, "picklist"),
    _text("Industry", "Industry", 255, "picklist"), _field("AnnualRevenue", "currency", "Annual Revenue"),
    _field("NumberOfEmployees", "int", "Employees"), _text("Phone", "Account Phone", 40, "phone"),
    _text("Website", "Website", 255, "url"), *_address("Billing", "Billing"), *_address("Shipping", "Shipping"),
    _description(), *_audit(),
))

OPPORTUNITY = ObjectDescribe("Opportunity", "006", label="Opportunity", fields=(
    *_system("Opportunity"), _field("AccountId", "reference", "Account ID", 18),
    _required("Name", "string", "Name", 120), _required("StageName", "picklist", "Stage", 255),
    _required("CloseDate", "date", "Close Date"), _field("Amount", "currency", "Amount"),
    _field("Probability", "percent", "Probability (%)", defaulted_on_create=True),
    _text("Type", "Opportunity Type", 255, "picklist"), _text("LeadSource", "Lead Source", 255, "picklist"),
    _text("NextStep", "Next Step", 255), _description(), *_audit(),
))

CASE = ObjectDescribe("Case", "500", label="Case", fields=(
    *_system("Case"),
    _read_only("CaseNumber", "string", "Case Number", 30, nillable=False, defaulted_on_create=True, id_lookup=True),
    _field("ContactId", "reference", "Contact ID", 18), _field("AccountId", "reference", "Account ID", 18),
    _text("Subject", "Subject", 255),
    _field("Status", "picklist", "Status", 255, defaulted_on_create=True),
    _text("Origin", "Case Origin", 255, "picklist"),
    _field("Priority", "picklist", "Priority", 255, defaulted_on_create=True),
    _text("Type", "Case Type", 255, "picklist"), _text("Reason", "Case Reason", 255, "picklist"),
    _email("SuppliedEmail", "Web Email", lookup=False), _text("SuppliedName", "Web Name", 80),
    _text("SuppliedPhone", "Web Phone", 40), _description(), *_audit(),
))

SUBSCRIPTION = ObjectDescribe("Subscription__c", "a0S", label="Subscription", fields=(
    *_system("Subscription"),
    # A custom object's Name is filled with the record id when left out: defaulted, so not required.
    _field("Name", "string", "Subscription Name", 80, nillable=False, defaulted_on_create=True, id_lookup=True),
    _text("External_Id__c", "External Id", 255, external_id=True, id_lookup=True, unique=True),
    _field("Account__c", "reference", "Account", 18), _text("Plan__c", "Plan", 80),
    _field("Seats__c", "double", "Seats"), _boolean("Active__c", "Active"),
    _field("Renewal_Date__c", "date", "Renewal Date"), *_audit(),
))

STANDARD_CATALOG: dict[str, ObjectDescribe] = {o.name: o for o in (LEAD, CONTACT, ACCOUNT, OPPORTUNITY, CASE,
                                                                     SUBSCRIPTION)}


def find_describe(name: str, catalog: dict[str, ObjectDescribe] | None = None) -> ObjectDescribe | None:
    """The describe of object `name` (case-insensitive, as Salesforce's API names are), or None."""
    wanted = name.lower()
    return next((o for o in (catalog or STANDARD_CATALOG).values() if o.name.lower() == wanted), None)


def key_prefix_of(object_name: str, catalog: dict[str, ObjectDescribe] | None = None) -> str:
    """The key prefix of an object in the catalog or of a well-known one (User, Group); '' if unknown."""
    found = find_describe(object_name, catalog)
    return found.key_prefix if found else OTHER_KEY_PREFIXES.get(object_name, "")


__all__ = [
    "STANDARD_CATALOG", "find_describe", "key_prefix_of", "describe_json", "describe_from_json", "global_describe_json",
]
