"""Orgs beyond the standard catalog: the features an admin may have turned on, each off by default.

`catalog_for(OrgOptions(...))` gives the catalog for `Org(...)`, `MemoryBackend(catalog=...)` and, through an
Org, the emulator (`Emulator(org=Org(catalog_for(...)))`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from adapters.memory.catalog import STANDARD_CATALOG
from adapters.memory.org import Org, salesforce_now
from core.describe import FieldDescribe, ObjectDescribe, PicklistValue


@dataclass(frozen=True)
class RecordTypeSpec:
    """A record type to create: its object, DeveloperName, and the values picklists allow under it
    ((field, values) pairs; a picklist left out allows all its active values)."""

    object_name: str
    developer_name: str
    active: bool = True
    picklists: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class OrgOptions:
    # Objects given a custom External_Id__c field (text, external id, not unique), e.g. ("Account",).
    external_ids: tuple[str, ...] = ()
    # Record types (their objects get a RecordTypeId field if they lack one).
    record_types: tuple[RecordTypeSpec, ...] = ()
    # Active duplicate rules (alert and block): (object, field) pairs, e.g. (("Lead", "Email"),).
    duplicate_rules: tuple[tuple[str, str], ...] = ()
    # A default Lead and Case assignment rule routing records to a queue (Org.assignment_rules has its ids).
    assignment_rule: bool = False
    # Further Lead and Case assignment rules, not the default, with these ids (01Q...), each routing to its own
    # queue: what an action's assignment_rule names.
    assignment_rule_ids: tuple[str, ...] = ()
    # Multi-currency: the enabled currencies, the corporate one first; every catalog object but User and
    # RecordType gets CurrencyIsoCode. Empty: a single-currency org (no CurrencyIsoCode field).
    currencies: tuple[str, ...] = ()
    # Person Accounts: Account gets FirstName, LastName, PersonEmail and IsPersonAccount, and the record types
    # PersonAccount (a person) and Business_Account.
    person_accounts: bool = False
    # The API user holds the "Bulk API Hard Delete" system permission (Bulk API 2.0 hardDelete jobs allowed).
    hard_delete: bool = False


def _external_id() -> FieldDescribe:
    return FieldDescribe("External_Id__c", "string", label="External Id", length=255, external_id=True,
                         id_lookup=True)


def _with_fields(obj: ObjectDescribe, *fields: FieldDescribe) -> ObjectDescribe:
    return replace(obj, fields=(*obj.fields, *(f for f in fields if obj.field(f.name) is None)))


def _record_type_id() -> FieldDescribe:
    return FieldDescribe("RecordTypeId", "reference", label="Record Type ID", length=18, reference_to=("RecordType",),
                         relationship_name="RecordType")


def _currency_iso_code(currencies: tuple[str, ...]) -> FieldDescribe:
    return FieldDescribe("CurrencyIsoCode", "picklist", label="Currency ISO Code", length=3, nillable=True,
                         defaulted_on_create=True, restricted_picklist=True,
                         picklist_values=tuple(PicklistValue(c, c, default_value=i == 0)
                                               for i, c in enumerate(currencies)))


def _person_fields() -> tuple[FieldDescribe, ...]:
    return (FieldDescribe("FirstName", "string", label="First Name", length=40),
            FieldDescribe("LastName", "string", label="Last Name", length=80),
            FieldDescribe("PersonEmail", "email", label="Email", length=80),
            FieldDescribe("IsPersonAccount", "boolean", label="Is Person Account", nillable=False, createable=False,
                          updateable=False, defaulted_on_create=True, default_value=False))


def catalog_for(options: OrgOptions) -> dict[str, ObjectDescribe]:
    catalog = dict(STANDARD_CATALOG)
    if options.person_accounts:
        catalog["Account"] = _with_fields(catalog["Account"], *_person_fields())
    if options.currencies:
        for name in [n for n in catalog if n not in ("User", "RecordType")]:
            catalog[name] = _with_fields(catalog[name], _currency_iso_code(options.currencies))
    for name in options.external_ids:
        catalog[name] = _with_fields(catalog[name], _external_id())
    for spec in options.record_types:
        catalog[spec.object_name] = _with_fields(catalog[spec.object_name], _record_type_id())
    return catalog


def new_org(options: OrgOptions, clock: Callable[[], str] = salesforce_now) -> Org:
    """An org with the options' objects, fields and record types; `clock` as Org's (CreatedDate and
    LastModifiedDate)."""
    org = Org(catalog_for(options), clock=clock)
    for spec in options.record_types:
        org.add_record_type(spec.object_name, spec.developer_name, active=spec.active, picklists=dict(spec.picklists))
    if options.person_accounts:
        org.add_record_type("Account", "PersonAccount", person=True)
        org.add_record_type("Account", "Business_Account")
    for object_name, field_name in options.duplicate_rules:
        org.add_duplicate_rule(object_name, field_name)
    if options.assignment_rule:
        org.add_assignment_rule()
    org.hard_delete_allowed = options.hard_delete
    for rule_id in options.assignment_rule_ids:
        org.add_assignment_rule(default=False, rule_id=rule_id)
    return org
