"""Describe metadata in Salesforce's REST JSON shape, and back: what the emulator serves and adapters parse."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from adapters.memory.field_facts import (
    AUTO_NUMBER_FIELDS,
    NAME_FIELD_OVERRIDES,
    PICKLIST_VALUES,
    REFERENCE_TARGETS,
    TEXT_TYPES,
)
from core.describe import FieldDescribe, ObjectDescribe

DEFAULT_API_VERSION = "66.0"
_SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "long": "xsd:long",
    "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
    "datetime": "xsd:dateTime", "time": "xsd:time", "base64": "xsd:base64Binary",
}
# (precision, scale, digits) by type; Salesforce reports zeros for non-numeric fields.
_NUMBER_SIZES = {"currency": (18, 2, 0), "double": (18, 0, 0), "percent": (3, 0, 0), "int": (0, 0, 9),
                 "long": (0, 0, 18)}
# Types Salesforce does not let you GROUP BY.
_NOT_GROUPABLE = frozenset({"double", "currency", "percent", "datetime", "textarea", "multipicklist"})


def _plural(label: str) -> str:
    if label.endswith("y") and label[-2:-1] not in tuple("aeiou"):
        return label[:-1] + "ies"
    return label + "s"


def _relationship_name(field: FieldDescribe) -> str | None:
    if field.type != "reference":
        return None
    if field.name.endswith("__c"):
        return field.name[:-3] + "__r"
    return field.name[:-2] if field.name.endswith("Id") else field.name


def field_json(object_name: str, f: FieldDescribe) -> dict[str, Any]:
    """One entry of `fields` in a DescribeSObjectResult."""
    precision, scale, digits = _NUMBER_SIZES.get(f.type, (0, 0, 0))
    picklist = PICKLIST_VALUES.get((object_name, f.name), ())
    return {
        "name": f.name, "label": f.label, "type": f.type, "length": f.length,
        "byteLength": f.length * 3 if f.type in TEXT_TYPES or f.type in ("id", "reference") else 0,
        "precision": precision, "scale": scale, "digits": digits,
        "nillable": f.nillable, "createable": f.createable, "updateable": f.updateable,
        "filterable": f.filterable, "sortable": f.filterable and f.type != "multipicklist",
        "groupable": f.filterable and f.type not in _NOT_GROUPABLE,
        "defaultedOnCreate": f.defaulted_on_create, "externalId": f.external_id, "idLookup": f.id_lookup,
        "unique": f.unique, "caseSensitive": f.case_sensitive, "custom": f.name.endswith("__c"),
        "calculated": False, "autoNumber": (object_name, f.name) in AUTO_NUMBER_FIELDS,
        "nameField": f.name == NAME_FIELD_OVERRIDES.get(object_name, "Name"),
        "htmlFormatted": False, "deprecatedAndHidden": False, "defaultValue": None,
        "extraTypeInfo": "plaintextarea" if f.type == "textarea" else None,
        "picklistValues": [{"active": True, "defaultValue": i == 0 and f.defaulted_on_create, "label": v,
                            "value": v, "validFor": None} for i, v in enumerate(picklist)],
        "restrictedPicklist": False, "dependentPicklist": False,
        "referenceTo": list(REFERENCE_TARGETS.get(f.name, ())) if f.type == "reference" else [],
        "relationshipName": _relationship_name(f),
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
    }


def _object_summary(obj: ObjectDescribe, api_version: str) -> dict[str, Any]:
    base = f"/services/data/v{api_version}/sobjects/{obj.name}"
    return {
        "name": obj.name, "label": obj.label or obj.name, "labelPlural": _plural(obj.label or obj.name),
        "keyPrefix": obj.key_prefix or None, "custom": obj.name.endswith("__c"), "customSetting": False,
        "createable": obj.createable, "updateable": obj.updateable, "deletable": obj.deletable,
        "queryable": obj.queryable, "retrieveable": obj.queryable, "searchable": True, "triggerable": True,
        "undeletable": obj.deletable, "mergeable": obj.name in ("Lead", "Contact", "Account", "Case"),
        "layoutable": True, "replicateable": True, "feedEnabled": False, "mruEnabled": True,
        "activateable": False, "deprecatedAndHidden": False,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def describe_json(obj: ObjectDescribe, api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """The body of GET /services/data/vXX.X/sobjects/{obj}/describe."""
    return {**_object_summary(obj, api_version), "fields": [field_json(obj.name, f) for f in obj.fields],
            "childRelationships": [], "recordTypeInfos": []}


def global_describe_json(objects: Iterable[ObjectDescribe], api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """The body of GET /services/data/vXX.X/sobjects/ (Describe Global)."""
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [_object_summary(o, api_version) for o in objects]}


def _field_from_json(d: Mapping[str, Any]) -> FieldDescribe:
    return FieldDescribe(
        name=d["name"], type=d["type"], label=d.get("label") or "", length=int(d.get("length") or 0),
        nillable=bool(d.get("nillable", True)), createable=bool(d.get("createable", False)),
        updateable=bool(d.get("updateable", False)), filterable=bool(d.get("filterable", False)),
        defaulted_on_create=bool(d.get("defaultedOnCreate", False)), external_id=bool(d.get("externalId", False)),
        id_lookup=bool(d.get("idLookup", False)), unique=bool(d.get("unique", False)),
        case_sensitive=bool(d.get("caseSensitive", False)),
    )


def describe_from_json(d: Mapping[str, Any]) -> ObjectDescribe:
    """An ObjectDescribe from a DescribeSObjectResult body; missing flags read as the safe 'no'."""
    return ObjectDescribe(
        name=d["name"], key_prefix=d.get("keyPrefix") or "", label=d.get("label") or "",
        fields=tuple(_field_from_json(f) for f in d.get("fields") or ()),
        createable=bool(d.get("createable", False)), updateable=bool(d.get("updateable", False)),
        deletable=bool(d.get("deletable", False)), queryable=bool(d.get("queryable", False)),
    )
