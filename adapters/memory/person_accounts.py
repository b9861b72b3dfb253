"""Person Accounts in the memory org: an Account of a person record type has a person's names, not a Name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.memory.record_rules import Refusal

# Shown when a write sets a person account's Name (the emulator's wording; see tools/emulator/ORG_NEEDS_FACTS.md).
NAME_REFUSED = "Name: a person account's Name cannot be set; set FirstName and LastName"


def person_values(body: Mapping[str, Any], values: dict[str, Any], current: Mapping[str, Any] | None = None) -> None:
    """Refuse a Name in the body; set IsPersonAccount and the Name Salesforce builds from the person's names."""
    if any(k.lower() == "name" for k in body):
        raise Refusal("INVALID_FIELD_FOR_INSERT_UPDATE", NAME_REFUSED, ("Name",))
    merged = {**(current or {}), **values}
    if not merged.get("LastName"):
        raise Refusal("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ("LastName",))
    values["Name"] = " ".join(p for p in (merged.get("FirstName"), merged.get("LastName")) if p)
    values["IsPersonAccount"] = True
