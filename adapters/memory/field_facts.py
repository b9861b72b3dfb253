"""Facts about standard fields that describe dataclasses do not carry: lookups, picklists, defaults."""

from __future__ import annotations

from typing import Any

# Text-like types: stored as strings, checked against `length`.
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"})

# Objects outside the catalog that standard lookups point at, with their key prefixes.
OTHER_KEY_PREFIXES = {"User": "005", "Group": "00G"}
# Lookup field -> the objects it may point at (referenceTo in describe).
REFERENCE_TARGETS: dict[str, tuple[str, ...]] = {
    "OwnerId": ("User",),
    "AccountId": ("Account",),
    "ContactId": ("Contact",),
    "Account__c": ("Account",),
}
PICKLIST_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Lead", "Status"): ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                         "Closed - Not Converted"),
    ("Case", "Status"): ("New", "Working", "Escalated", "Closed"),
    ("Case", "Origin"): ("Phone", "Email", "Web"),
    ("Case", "Priority"): ("High", "Medium", "Low"),
    ("Opportunity", "StageName"): ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
                                   "Negotiation/Review", "Closed Won", "Closed Lost"),
}
# Values the server fills in on create when the request leaves a defaulted field out.
DEFAULT_VALUES: dict[tuple[str, str], Any] = {
    ("Lead", "Status"): "Open - Not Contacted",
    ("Case", "Status"): "New",
    ("Case", "Priority"): "Medium",
}
# Opportunity.Probability defaults from the stage, as the standard sales process does.
STAGE_PROBABILITY = {"Prospecting": 10, "Qualification": 10, "Needs Analysis": 20, "Value Proposition": 50,
                     "Negotiation/Review": 90, "Closed Won": 100, "Closed Lost": 0}
# The field that names a record (nameField in describe), where it is not `Name`.
NAME_FIELD_OVERRIDES = {"Case": "CaseNumber"}
# Fields the server numbers itself (autoNumber in describe): read-only, filled on create.
AUTO_NUMBER_FIELDS = frozenset({("Case", "CaseNumber")})
