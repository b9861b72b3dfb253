"""Describe metadata of an sObject: the facts validation and matching rely on.

Fields left out when a FieldDescribe is built (None) take the value Salesforce reports for a field of
that type, so hand-built describes and parsed ones read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

INTEGER_TYPES = frozenset({"int", "long"})
DECIMAL_TYPES = frozenset({"double", "currency", "percent"})
NUMERIC_TYPES = INTEGER_TYPES | DECIMAL_TYPES
ID_TYPES = frozenset({"id", "reference"})
# Text-like types: stored as strings, checked against `length`.
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox",
                        "encryptedstring"})
PICKLIST_TYPES = frozenset({"picklist", "multipicklist", "combobox"})

_SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "long": "xsd:long",
    "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
    "datetime": "xsd:dateTime", "time": "xsd:time", "base64": "xsd:base64Binary", "address": "urn:address",
    "location": "urn:location", "anytype": "xsd:anyType",
}
# (precision, scale, digits) by type; Salesforce reports zeros for non-numeric fields.
_NUMBER_SIZES = {"currency": (18, 2, 0), "double": (18, 0, 0), "percent": (3, 0, 0), "int": (0, 0, 9),
                 "long": (0, 0, 18)}
# Types Salesforce does not let you GROUP BY.
_NOT_GROUPABLE = frozenset({"double", "currency", "percent", "datetime", "textarea", "multipicklist", "address",
                            "location"})
_COMPOUND = frozenset({"address", "location"})


@dataclass(frozen=True)
class PicklistValue:
    """One entry of a field's picklistValues."""

    value: str
    label: str = ""
    active: bool = True
    default_value: bool = False


@dataclass(frozen=True)
class FieldDescribe:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    filterable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    case_sensitive: bool = False
    # Further describe facts; None reads as what Salesforce reports for a field of this type.
    precision: int | None = None
    scale: int | None = None
    digits: int | None = None
    byte_length: int | None = None
    picklist_values: tuple[PicklistValue, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    calculated: bool = False
    auto_number: bool = False
    name_field: bool | None = None
    default_value: str | bool | int | float | None = None
    soap_type: str | None = None
    extra_type_info: str | None = None
    compound_field_name: str | None = None
    groupable: bool | None = None
    sortable: bool | None = None
    aggregatable: bool | None = None
    permissionable: bool | None = None
    search_prefilterable: bool = False
    custom: bool | None = None

    def __post_init__(self) -> None:
        precision, scale, digits = _NUMBER_SIZES.get(self.type, (0, 0, 0))
        derived = {
            "precision": precision, "scale": scale, "digits": digits,
            "byte_length": self.length * 3 if self.type in TEXT_TYPES else self.length if self.type in ID_TYPES else 0,
            "soap_type": _SOAP_TYPES.get(self.type, "xsd:string"),
            "groupable": self.filterable and self.type not in _NOT_GROUPABLE,
            "sortable": self.filterable and self.type not in ("multipicklist", *_COMPOUND),
            "aggregatable": self.type not in ("boolean", *_COMPOUND) and (self.type != "textarea" or self.filterable),
            "permissionable": self.nillable and (self.createable or self.updateable),
            "custom": self.name.endswith("__c"),
            "name_field": self.name == "Name",
            "extra_type_info": "plaintextarea" if self.type == "textarea" else None,
        }
        for name, value in derived.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create

    @property
    def default_picklist_value(self) -> str | None:
        """The active picklist value Salesforce fills in when a create leaves the field out, if any."""
        return next((p.value for p in self.picklist_values if p.default_value and p.active), None)


# Object-level describe flags beyond create/update/delete/query; `capabilities` holds the true ones.
OBJECT_FLAGS = ("activateable", "compactLayoutable", "customSetting", "deepCloneable", "deprecatedAndHidden",
                "feedEnabled", "hasSubtypes", "isInterface", "isSubtype", "layoutable", "mergeable", "mruEnabled",
                "replicateable", "retrieveable", "searchLayoutable", "searchable", "triggerable", "undeletable")


@dataclass(frozen=True)
class ObjectDescribe:
    name: str
    key_prefix: str
    fields: tuple[FieldDescribe, ...]
    label: str = ""
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    label_plural: str = ""
    capabilities: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.label_plural:
            object.__setattr__(self, "label_plural", _plural(self.label or self.name))
        if self.capabilities is None:
            derived = {"compactLayoutable", "layoutable", "mruEnabled", "replicateable", "searchLayoutable",
                       "searchable", "triggerable"}
            derived |= {"retrieveable"} if self.queryable else set()
            derived |= {"undeletable"} if self.deletable else set()
            object.__setattr__(self, "capabilities", frozenset(derived))

    @cached_property
    def _by_lower_name(self) -> dict[str, FieldDescribe]:
        by_name: dict[str, FieldDescribe] = {}
        for f in self.fields:
            by_name.setdefault(f.name.lower(), f)
        return by_name

    def field(self, name: str) -> FieldDescribe | None:
        """The field called `name`; API names are case-insensitive, as in Salesforce."""
        return self._by_lower_name.get(name.lower())


def _plural(label: str) -> str:
    if label.endswith("y") and label[-2:-1] not in tuple("aeiou"):
        return label[:-1] + "ies"
    return label + "s"
