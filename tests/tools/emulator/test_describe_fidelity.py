"""The memory org and the emulator describe the catalog exactly as the vendored real describes do.

adapters/memory/describe/<Object>.json holds each object's describe as recorded from a live org (or documented,
see PROVENANCE.md there). Both faces must give back every vendored key with its value, field by field, in the
recorded order, and every other key a real describe response carries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import adapters.memory
from adapters.memory.catalog import CATALOG_OBJECTS, describe_json
from adapters.memory.org import Org
from tests.tools.emulator.helpers import V

VENDORED = Path(adapters.memory.__file__).parent / "describe"
# The keys of one field in a real REST describe (the CumulusCI recordings, v48.0-v59.0).
REAL_FIELD_KEYS = {
    "aggregatable", "aiPredictionField", "autoNumber", "byteLength", "calculated", "calculatedFormula",
    "cascadeDelete", "caseSensitive", "compoundFieldName", "controllerName", "createable", "custom", "defaultValue",
    "defaultValueFormula", "defaultedOnCreate", "dependentPicklist", "deprecatedAndHidden", "digits",
    "displayLocationInDecimal", "encrypted", "externalId", "extraTypeInfo", "filterable", "filteredLookupInfo",
    "formulaTreatNullNumberAsZero", "groupable", "highScaleNumber", "htmlFormatted", "idLookup", "inlineHelpText",
    "label", "length", "mask", "maskType", "name", "nameField", "namePointing", "nillable", "permissionable",
    "picklistValues", "polymorphicForeignKey", "precision", "queryByDistance", "referenceTargetField",
    "referenceTo", "relationshipName", "relationshipOrder", "restrictedDelete", "restrictedPicklist", "scale",
    "searchPrefilterable", "soapType", "sortable", "type", "unique", "updateable", "writeRequiresMasterRead",
}
REAL_OBJECT_KEYS = {
    "actionOverrides", "activateable", "associateEntityType", "associateParentEntity", "childRelationships",
    "compactLayoutable", "createable", "custom", "customSetting", "deepCloneable", "defaultImplementation",
    "deletable", "deprecatedAndHidden", "extendedBy", "extendsInterfaces", "feedEnabled", "fields", "hasSubtypes",
    "implementedBy", "implementsInterfaces", "isInterface", "isSubtype", "keyPrefix", "label", "labelPlural",
    "layoutable", "listviewable", "lookupLayoutable", "mergeable", "mruEnabled", "name", "namedLayoutInfos",
    "networkScopeFieldName", "queryable", "recordTypeInfos", "replicateable", "retrieveable", "searchLayoutable",
    "searchable", "sobjectDescribeOption", "supportedScopes", "triggerable", "undeletable", "updateable", "urls",
}


def vendored(object_name: str) -> dict:
    return json.loads((VENDORED / f"{object_name}.json").read_text(encoding="utf-8"))


def assert_describes_as_vendored(served: dict, expected: dict) -> None:
    assert set(served) == REAL_OBJECT_KEYS
    for key, value in expected.items():
        if key != "fields":
            assert served[key] == value, key
    assert [f["name"] for f in served["fields"]] == [f["name"] for f in expected["fields"]]
    for got, want in zip(served["fields"], expected["fields"], strict=True):
        assert set(got) == REAL_FIELD_KEYS, want["name"]
        for key, value in want.items():
            if key == "picklistValues":
                assert [{k: p[k] for k in ("value", "label", "active", "defaultValue")} for p in got[key]] == value
                assert all(p["validFor"] is None for p in got[key])
            else:
                assert got[key] == value, f"{want['name']}.{key}"


@pytest.mark.parametrize("object_name", CATALOG_OBJECTS)
def test_memory_org_and_emulator_describe_each_object_as_vendored(emulator, api, object_name):
    expected = vendored(object_name)
    assert_describes_as_vendored(describe_json(Org().describe(object_name)), expected)
    response = api.get(f"{V}/sobjects/{object_name}/describe")
    assert response.status_code == 200
    assert_describes_as_vendored(response.json(), expected)


def test_every_catalog_object_is_vendored_and_every_vendored_file_is_in_the_catalog():
    assert sorted(p.stem for p in VENDORED.glob("*.json")) == sorted(CATALOG_OBJECTS)


def test_the_regressions_the_recordings_revealed(api):
    account = {f["name"]: f for f in api.get(f"{V}/sobjects/Account/describe").json()["fields"]}
    assert account["Name"]["idLookup"] is False and account["Name"]["nillable"] is False
    lead = {f["name"]: f for f in api.get(f"{V}/sobjects/Lead/describe").json()["fields"]}
    assert {"HasOptedOutOfEmail", "DoNotCall", "Rating", "Salutation", "Fax"} <= set(lead)
    assert lead["OwnerId"]["referenceTo"] == ["Group", "User"] and lead["OwnerId"]["polymorphicForeignKey"]
    assert lead["Company"]["length"] == 255 and lead["Title"]["length"] == 128


# An object's entry in a real Describe Global (the CumulusCI Global describe recording, v52.0).
REAL_GLOBAL_KEYS = {
    "activateable", "associateEntityType", "associateParentEntity", "createable", "custom", "customSetting",
    "deepCloneable", "deletable", "deprecatedAndHidden", "feedEnabled", "hasSubtypes", "isInterface", "isSubtype",
    "keyPrefix", "label", "labelPlural", "layoutable", "mergeable", "mruEnabled", "name", "queryable",
    "replicateable", "retrieveable", "searchable", "triggerable", "undeletable", "updateable", "urls",
}


def test_describe_global_lists_the_catalog_with_real_keys_and_flags(api):
    response = api.get(f"{V}/sobjects/")
    assert response.status_code == 200
    entries = {s["name"]: s for s in response.json()["sobjects"]}
    assert list(entries) == list(CATALOG_OBJECTS)
    assert all(set(s) == REAL_GLOBAL_KEYS for s in entries.values())
    for name, entry in entries.items():
        expected = vendored(name)
        assert {k: entry[k] for k in REAL_GLOBAL_KEYS - {"urls"}} == {
            k: expected[k] for k in REAL_GLOBAL_KEYS - {"urls", "associateEntityType", "associateParentEntity"}} | {
            "associateEntityType": None, "associateParentEntity": None}
    # The User entry as the recording has it: createable, never deleted or merged through the API.
    user = entries["User"]
    assert (user["createable"], user["deletable"], user["undeletable"], user["mergeable"]) == (True, False, False, False)
