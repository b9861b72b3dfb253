"""Describe metadata in Salesforce's REST JSON shape, and back: what the emulator serves and adapters parse.

Every fact a describe carries comes from the ObjectDescribe; keys sfdest keeps no fact for take the value
real describe responses give them (the recordings under describe/ show which).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.describe import OBJECT_FLAGS, FieldDescribe, ObjectDescribe
from core.describe_rest import describe_from_rest
from core.record_types import RecordTypeInfo

DEFAULT_API_VERSION = "66.0"
MASTER_RECORD_TYPE_ID = "012000000000000AAA"
# Objects that have no record types, so describe lists none (not even the master).
_WITHOUT_RECORD_TYPES = frozenset({"User", "RecordType"})
# Per-field keys real describe gives with the same value for every standard and simple custom field.
_FIELD_CONSTANTS: dict[str, Any] = {
    "aiPredictionField": False, "calculatedFormula": None, "cascadeDelete": False, "controllerName": None,
    "defaultValueFormula": None, "dependentPicklist": False, "deprecatedAndHidden": False,
    "displayLocationInDecimal": False, "encrypted": False, "filteredLookupInfo": None,
    "formulaTreatNullNumberAsZero": False, "highScaleNumber": False, "htmlFormatted": False, "inlineHelpText": None,
    "mask": None, "maskType": None, "referenceTargetField": None, "relationshipOrder": None, "restrictedDelete": False,
    "writeRequiresMasterRead": False,
}
_OBJECT_CONSTANTS: dict[str, Any] = {
    "actionOverrides": [], "associateEntityType": None, "associateParentEntity": None, "childRelationships": [],
    "defaultImplementation": None, "extendedBy": None, "extendsInterfaces": None, "implementedBy": None,
    "implementsInterfaces": None, "listviewable": None, "lookupLayoutable": None, "namedLayoutInfos": [],
    "networkScopeFieldName": None, "sobjectDescribeOption": "FULL",
}


def field_json(f: FieldDescribe) -> dict[str, Any]:
    """One entry of `fields` in a DescribeSObjectResult, keys in the order Salesforce sends them."""
    polymorphic = len(f.reference_to) > 1
    entry = {
        **_FIELD_CONSTANTS,
        "aggregatable": f.aggregatable, "autoNumber": f.auto_number, "byteLength": f.byte_length,
        "calculated": f.calculated, "caseSensitive": f.case_sensitive, "compoundFieldName": f.compound_field_name,
        "createable": f.createable, "custom": f.custom, "defaultValue": f.default_value,
        "defaultedOnCreate": f.defaulted_on_create, "digits": f.digits, "externalId": f.external_id,
        "extraTypeInfo": f.extra_type_info, "filterable": f.filterable, "groupable": f.groupable,
        "idLookup": f.id_lookup, "label": f.label, "length": f.length, "name": f.name, "nameField": f.name_field,
        "namePointing": polymorphic, "nillable": f.nillable, "permissionable": f.permissionable,
        "picklistValues": [{"active": p.active, "defaultValue": p.default_value, "label": p.label, "validFor": None,
                            "value": p.value} for p in f.picklist_values],
        "polymorphicForeignKey": polymorphic, "precision": f.precision,
        "queryByDistance": f.type in ("address", "location"), "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name, "restrictedPicklist": f.restricted_picklist, "scale": f.scale,
        "searchPrefilterable": f.search_prefilterable, "soapType": f.soap_type, "sortable": f.sortable,
        "type": f.type, "unique": f.unique, "updateable": f.updateable,
    }
    return dict(sorted(entry.items()))


def _urls(obj: ObjectDescribe, api_version: str) -> dict[str, str]:
    base = f"/services/data/v{api_version}/sobjects/{obj.name}"
    urls = {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}
    if "layoutable" in (obj.capabilities or ()):
        urls |= {"layouts": f"{base}/describe/layouts", "quickActions": f"{base}/quickActions"}
    if "compactLayoutable" in (obj.capabilities or ()):
        urls["compactLayouts"] = f"{base}/describe/compactLayouts"
    return urls


def _object_summary(obj: ObjectDescribe, api_version: str) -> dict[str, Any]:
    """The object's entry in Describe Global: its name, labels and flags."""
    capabilities = obj.capabilities or frozenset()
    summary = {
        "associateEntityType": None, "associateParentEntity": None, "createable": obj.createable,
        "custom": obj.name.endswith("__c"), "deletable": obj.deletable, "keyPrefix": obj.key_prefix or None,
        "label": obj.label or obj.name, "labelPlural": obj.label_plural, "name": obj.name,
        "queryable": obj.queryable, "updateable": obj.updateable, "urls": _urls(obj, api_version),
        **{flag: flag in capabilities for flag in OBJECT_FLAGS
           if flag not in ("compactLayoutable", "searchLayoutable")},
    }
    return dict(sorted(summary.items()))


def _record_type_infos(obj: ObjectDescribe, api_version: str) -> list[dict[str, Any]]:
    if obj.name in _WITHOUT_RECORD_TYPES:
        return []
    layout = f"/services/data/v{api_version}/sobjects/{obj.name}/describe/layouts/{MASTER_RECORD_TYPE_ID}"
    return [{"active": True, "available": True, "defaultRecordTypeMapping": True, "developerName": "Master",
             "master": True, "name": "Master", "recordTypeId": MASTER_RECORD_TYPE_ID, "urls": {"layout": layout}}]


def describe_json(obj: ObjectDescribe, api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """The body of GET /services/data/vXX.X/sobjects/{obj}/describe."""
    capabilities = obj.capabilities or frozenset()
    plural = obj.label_plural.lower()
    body = {
        **_OBJECT_CONSTANTS, **_object_summary(obj, api_version),
        **{flag: flag in capabilities for flag in OBJECT_FLAGS},
        "fields": [field_json(f) for f in obj.fields], "recordTypeInfos": _record_type_infos(obj, api_version),
        "supportedScopes": [{"label": f"All {plural}", "name": "everything"},
                            {"label": f"My {plural}", "name": "mine"}],
    }
    return dict(sorted(body.items()))


def global_describe_json(objects: Iterable[ObjectDescribe], api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """The body of GET /services/data/vXX.X/sobjects/ (Describe Global)."""
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [_object_summary(o, api_version) for o in objects]}


def layouts_json(obj: ObjectDescribe, record_types: Iterable[RecordTypeInfo],
                 api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    """The body of GET /sobjects/{obj}/describe/layouts/: no layouts, and a recordTypeMapping per record type
    with the values each picklist allows under it."""
    base = f"/services/data/v{api_version}/sobjects/{obj.name}/describe/layouts"

    def values(name: str, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
        f = obj.field(name)
        labels = {p.value: p.label for p in f.picklist_values} if f else {}
        return [{"active": True, "defaultValue": False, "label": labels.get(v, v), "validFor": None, "value": v}
                for v in allowed]

    mappings = [{"active": rt.active, "available": rt.active, "defaultRecordTypeMapping": rt.master,
                 "developerName": rt.developer_name, "layoutId": None, "master": rt.master, "name": rt.developer_name,
                 "picklistsForRecordType": [{"picklistName": n, "picklistValues": values(n, v)}
                                            for n, v in rt.picklists.items()],
                 "recordTypeId": rt.id, "urls": {"layout": f"{base}/{rt.id}"}} for rt in record_types]
    return {"layouts": [], "recordTypeMappings": mappings, "recordTypeSelectorRequired": [len(mappings) > 1]}


# The parser every describe source shares (core.describe_rest), under the name the memory adapter exports.
describe_from_json = describe_from_rest

