"""Describe metadata read from Salesforce's REST shape (a DescribeSObjectResult body).

One reader for every source of describe JSON: a live org's answer, the emulator's, the vendored files.
Absent permission flags read as the safe 'no' (not createable, not filterable...); absent presentation
facts (precision, soapType, groupable...) as what Salesforce reports for a field of that type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.describe import OBJECT_FLAGS, FieldDescribe, ObjectDescribe, PicklistValue


def _opt_int(d: Mapping[str, Any], key: str) -> int | None:
    value = d.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _opt_bool(d: Mapping[str, Any], key: str) -> bool | None:
    value = d.get(key)
    return value if isinstance(value, bool) else None


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    return str(value) if value is not None else None


def _picklist(d: Mapping[str, Any]) -> PicklistValue:
    value = str(d.get("value") or "")
    return PicklistValue(value, label=str(d.get("label") or value), active=bool(d.get("active", True)),
                         default_value=bool(d.get("defaultValue", False)))


def field_from_rest(d: Mapping[str, Any]) -> FieldDescribe:
    """One entry of `fields` as a FieldDescribe."""
    default = d.get("defaultValue")
    return FieldDescribe(
        name=str(d["name"]), type=str(d.get("type") or "string").lower(), label=str(d.get("label") or ""),
        length=int(d.get("length") or 0), nillable=bool(d.get("nillable", True)),
        createable=bool(d.get("createable", False)), updateable=bool(d.get("updateable", False)),
        filterable=bool(d.get("filterable", False)), defaulted_on_create=bool(d.get("defaultedOnCreate", False)),
        external_id=bool(d.get("externalId", False)), id_lookup=bool(d.get("idLookup", False)),
        unique=bool(d.get("unique", False)), case_sensitive=bool(d.get("caseSensitive", False)),
        precision=_opt_int(d, "precision"), scale=_opt_int(d, "scale"), digits=_opt_int(d, "digits"),
        byte_length=_opt_int(d, "byteLength"),
        picklist_values=tuple(_picklist(p) for p in d.get("picklistValues") or () if isinstance(p, Mapping)),
        restricted_picklist=bool(d.get("restrictedPicklist", False)),
        reference_to=tuple(str(t) for t in d.get("referenceTo") or ()),
        relationship_name=_opt_str(d, "relationshipName"),
        calculated=bool(d.get("calculated", False)), auto_number=bool(d.get("autoNumber", False)),
        name_field=_opt_bool(d, "nameField"),
        default_value=default if isinstance(default, (str, bool, int, float)) else None,
        soap_type=_opt_str(d, "soapType"), extra_type_info=_opt_str(d, "extraTypeInfo"),
        compound_field_name=_opt_str(d, "compoundFieldName"),
        groupable=_opt_bool(d, "groupable"), sortable=_opt_bool(d, "sortable"),
        aggregatable=_opt_bool(d, "aggregatable"), permissionable=_opt_bool(d, "permissionable"),
        search_prefilterable=bool(d.get("searchPrefilterable", False)), custom=_opt_bool(d, "custom"),
    )


def describe_from_rest(body: Mapping[str, Any]) -> ObjectDescribe:
    """An ObjectDescribe from a DescribeSObjectResult body; entries without a name are skipped."""
    given = [k for k in OBJECT_FLAGS if k in body]
    return ObjectDescribe(
        name=str(body["name"]), key_prefix=str(body.get("keyPrefix") or ""), label=str(body.get("label") or ""),
        fields=tuple(field_from_rest(f) for f in body.get("fields") or ()
                     if isinstance(f, Mapping) and f.get("name")),
        createable=bool(body.get("createable", False)), updateable=bool(body.get("updateable", False)),
        deletable=bool(body.get("deletable", False)), queryable=bool(body.get("queryable", False)),
        label_plural=str(body.get("labelPlural") or ""),
        capabilities=frozenset(k for k in given if body[k] is True) if given else None,
    )
