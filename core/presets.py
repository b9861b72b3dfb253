"""Default field mappings of the system sfdest replaces (Segment's Salesforce (Actions))."""

from __future__ import annotations

from core.model import FieldMapping, Preset, ValueSource
from core.paths import ACTION, FIELD_MAPPINGS, Path


def _tp(key: str) -> ValueSource:
    """traits.X if present, else properties.X (Segment's `@if exists` default)."""
    return ValueSource.of_path(f"traits.{key}", f"properties.{key}")


def _address(prefix: str) -> tuple[FieldMapping, ...]:
    parts = (("City", "city"), ("PostalCode", "postal_code"), ("Country", "country"),
             ("Street", "street"), ("State", "state"))
    return tuple(FieldMapping(prefix + name, _tp(f"address.{key}")) for name, key in parts)


PRESET_MAPPINGS: dict[Preset, tuple[FieldMapping, ...]] = {
    Preset.LEAD: (
        FieldMapping("LastName", _tp("last_name")),
        FieldMapping("Company", _tp("company")),
        FieldMapping("FirstName", _tp("first_name")),
        FieldMapping("Email", _tp("email")),
        *_address(""),
    ),
    Preset.CONTACT: (
        FieldMapping("LastName", _tp("last_name")),
        FieldMapping("FirstName", _tp("first_name")),
        FieldMapping("Email", _tp("email")),
        *_address("Mailing"),
    ),
    Preset.ACCOUNT: (
        FieldMapping("Name", ValueSource.of_path("traits.name")),
        FieldMapping("AccountNumber", ValueSource.of_path("groupId")),
        FieldMapping("NumberOfEmployees", _tp("employees")),
        *_address("Billing"),
        FieldMapping("Phone", _tp("phone")),
        FieldMapping("Description", _tp("description")),
        FieldMapping("Website", _tp("website")),
    ),
    Preset.OPPORTUNITY: (),
    Preset.CASE: (),
    # An Account that is a person: Name is never sent (Salesforce builds it from FirstName and LastName).
    Preset.PERSON_ACCOUNT: (
        FieldMapping("FirstName", _tp("first_name")),
        FieldMapping("LastName", _tp("last_name")),
        FieldMapping("PersonEmail", _tp("email")),
        FieldMapping("Phone", _tp("phone")),
    ),
}


def effective_mappings(
    preset: Preset | None, explicit: tuple[FieldMapping, ...]
) -> tuple[tuple[FieldMapping, Path], ...]:
    """Preset mappings overridden field by field by explicit ones, each with its request path."""
    chosen: dict[str, tuple[FieldMapping, Path]] = {}
    if preset is not None:
        for m in PRESET_MAPPINGS.get(preset, ()):
            chosen[m.field.lower()] = (m, ACTION.field("preset").argument(preset.value).field(m.field))
    for i, m in enumerate(explicit):
        chosen[m.field.lower()] = (m, FIELD_MAPPINGS.index(i))
    return tuple(chosen.values())
