"""The proto's org-feature fields (parent keys, record type, write options, Person Account preset) to the domain."""

from __future__ import annotations

from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb

from core import model
from server import translate


def _action(body: dict) -> model.Action:
    return translate.action(json_format.ParseDict(body, pb.Action()))


def test_every_org_feature_option_arrives_in_the_domain_action():
    action = _action({
        "object": "Lead", "operation": "OPERATION_CREATE", "preset": "PRESET_PERSON_ACCOUNT", "recordType": "Partner",
        "duplicateRuleHeader": {"allowSave": True, "runAsCurrentUser": True}, "adoptDuplicate": True,
        "assignmentRule": "none",
        "fieldMappings": [{"field": "OwnerId", "value": {"path": "traits.owner"},
                           "parent": {"keyField": "Username", "object": "User"}},
                          {"field": "Email", "value": {"path": "traits.email"}}]})
    assert action.preset is model.Preset.PERSON_ACCOUNT and action.record_type == "Partner"
    assert action.duplicate_rule == model.DuplicateRuleHeader(True, False, True)
    assert action.adopt_duplicate and action.assignment_rule == model.ASSIGNMENT_NONE
    assert action.field_mappings[0].parent == model.ParentKey("Username", "User")
    assert action.field_mappings[1].parent is None


def test_absent_options_mean_none():
    action = _action({"object": "Lead", "operation": "OPERATION_CREATE"})
    assert (action.duplicate_rule, action.adopt_duplicate, action.assignment_rule, action.record_type) == (
        None, False, "", "")
    empty_header = _action({"object": "Lead", "duplicateRuleHeader": {}})
    assert empty_header.duplicate_rule == model.DuplicateRuleHeader()  # present, all false: still sent
