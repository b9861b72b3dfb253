"""DUPLICATES_DETECTED as real orgs and Salesforce's documentation give it, in our own layout.

Facts only (key names, nesting, id forms); the ids and rule names are kept as recorded. Each block names its
source and kind (see tools/emulator/ORG_NEEDS_FACTS.md for the full provenance table).
"""

from __future__ import annotations

ALERT = "You're creating a duplicate record. We recommend you use an existing record instead."

# 1. sObject Collections element, as documented --------------------------------------------------------
# Source: Salesforce REST API Developer Guide, "Create Records Using sObject Collections", example response
# body (allOrNone false): the refused element is {success false, errors[{statusCode, message, fields}]} and
# names no duplicate. Kind: documented example. Also as printed in the guide's Composite example
# (allOrNone case 4). Its message is the rule's alert text.
COLLECTION_DOCUMENTED = {"success": False, "errors": [
    {"statusCode": "DUPLICATES_DETECTED", "message": "Use one of these records?", "fields": []}]}


# 2. Single-record REST answer: the matches under `duplicateResut` --------------------------------------
# Source: a C# Salesforce client keeping, as a comment, the 400 body a v54.0 org answered to a Contact create
# its standard duplicate rule caught (full-text index id 43513238085); the same key and nesting in a
# RudderStack error-extractor test quoting a v50.0 org's answer (rudderlabs/rudder-server, full-text index id
# 3714814627; ExactMatchEngine, rule Contact_MR). Kind: quoted log. Salesforce's own spelling of the key.
def recorded_match(record_id: str, object_name: str = "Contact") -> dict:
    return {"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
            "record": {"attributes": {"type": object_name,
                                      "url": f"/services/data/v54.0/sobjects/{object_name}/{record_id}"},
                       "Id": record_id}}


def single_record_refusal(*record_ids: str, object_name: str = "Contact") -> list[dict]:
    result = {"allowSave": True, "duplicateRule": f"Standard_{object_name}_Duplicate_Rule",
              "duplicateRuleEntityType": object_name, "errorMessage": ALERT,
              "matchResults": [{"entityType": object_name, "errors": [], "matchEngine": "FuzzyMatchEngine",
                                "matchRecords": [recorded_match(r, object_name) for r in record_ids],
                                "rule": f"Standard_{object_name}_Match_Rule_v1_1", "size": len(record_ids),
                                "success": True}]}
    return [{"duplicateResut": result, "errorCode": "DUPLICATES_DETECTED", "message": ALERT}]


# 3. A per-record error carrying `duplicateResult` (record as {Id, type}) ---------------------------------
# Source: a MuleSoft Salesforce connector's captured create result (a test fixture of a Mule application:
# bhuvanbbs/accounts-sfdc-sapi src/test/resources/postaccountflowtestfail1/mock_payload.dwl and
# AmrinAShaikh/Assignment, full-text index id 36395445230): errors[{duplicateResult{..., matchResults[{...,
# matchRecords[{matchConfidence, additionalInformation, fieldDiffs, record{Id, type}}]}]}, message, fields,
# statusCode}]. Kind: captured fixture (SOAP-based connector, the documented key spelling).
def per_record_refusal(*record_ids: str, object_name: str = "Account") -> dict:
    records = [{"matchConfidence": 100.0, "additionalInformation": [], "fieldDiffs": [],
                "record": {"Id": r, "type": object_name}} for r in record_ids]
    result = {"errorMessage": "Use one of these records?", "allowSave": True, "duplicateRuleEntityType": object_name,
              "duplicateRule": f"Standard_{object_name}_Duplicate_Rule",
              "matchResults": [{"entityType": object_name, "matchEngine": "FuzzyMatchEngine",
                                "rule": f"Standard_{object_name}_Match_Rule_v1_0", "size": len(records),
                                "success": True, "errors": [], "matchRecords": records}]}
    return {"success": False, "errors": [{"duplicateResult": result, "message": "Use one of these records?",
                                          "fields": [], "statusCode": "DUPLICATES_DETECTED"}]}
