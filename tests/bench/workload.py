"""The bench's operations: the action, N events with fresh keys, and the records seeded before they run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb

from adapters.memory.org import Org

LEAD_MAPPINGS = [{"field": "LastName", "value": {"path": "traits.last_name"}},
                 {"field": "Company", "value": {"path": "traits.company"}},
                 {"field": "Email", "value": {"path": "traits.email"}},
                 {"field": "Title", "value": {"path": "traits.title"}}]


@dataclass(frozen=True)
class Op:
    """One column of work: `kind` is what the baseline does per event (see tests.bench.baseline)."""

    name: str
    kind: str  # create | upsert | update | delete_by_id
    object_name: str
    action: dict[str, Any]
    match_field: str = ""  # the matcher's field (the baseline's WHERE)
    seeded: float = 0.0  # share of the events whose record exists before the run
    mappings: list[dict[str, Any]] = field(default_factory=list)
    native_upsert: bool = False  # the baseline upserts on the external id itself, one call per record

    def event(self, tag: str, i: int, record_id: str = "") -> dict[str, Any]:
        if self.object_name == "Subscription__c":
            return {"type": "track", "userId": f"u-{tag}-{i}", "event": "Subscribed",
                    "properties": {"sub_id": f"SUB-{tag}-{i}", "plan": f"plan-{i % 7}"}}
        traits = {"email": f"p{i}.{tag}@bench.example.com", "last_name": f"Person {i}", "company": "Bench Corp",
                  "title": f"Title {i % 11}"}
        if record_id:
            traits["lead_id"] = record_id
        return {"type": "identify", "userId": f"u-{tag}-{i}", "traits": traits}

    def seed(self, org: Org, tag: str, n: int) -> dict[int, str]:
        """Create the records that exist before the run (every other one for half): event index -> id."""
        if not self.seeded:
            return {}
        step = round(1 / self.seeded)
        ids = {}
        for i in range(0, n, step):
            if self.object_name == "Subscription__c":
                ids[i] = org.seed(self.object_name, {"External_Id__c": f"SUB-{tag}-{i}", "Plan__c": "old"})
            else:
                ids[i] = org.seed(self.object_name, {"LastName": f"Old {i}", "Company": "Old Corp",
                                                     "Email": f"p{i}.{tag}@bench.example.com"})
        return ids

    def payloads(self, tag: str, n: int, seeded: dict[int, str]) -> list[dict[str, Any]]:
        return [self.event(tag, i, seeded.get(i, "") if self.kind == "delete_by_id" else "") for i in range(n)]

    def request(self, connection: dict[str, Any], payloads: list[dict[str, Any]], tag: str) -> pb.ApplyRequest:
        """An Apply of `payloads`, its event ids unique to `tag` (the same id in the same action would be a retry
        of that event: its running Bulk job would be picked up, nothing written again)."""
        request = pb.ApplyRequest(action=json_format.ParseDict(self.action, pb.Action()),
                                  connection=json_format.ParseDict(connection, pb.Connection()))
        request.events.extend(pb.Event(id=f"{tag}-{i}", payload_json=json.dumps(p)) for i, p in enumerate(payloads))
        return request


def _lead(operation: str, matcher: str = "", path: str = "") -> dict[str, Any]:
    action: dict[str, Any] = {"object": "Lead", "operation": operation}
    if matcher:
        action["record_matchers"] = [{"field": matcher, "value": {"path": path}}]
    if operation != "OPERATION_DELETE":
        action["field_mappings"] = LEAD_MAPPINGS
    return action


SUBSCRIPTION_UPSERT = {"object": "Subscription__c", "operation": "OPERATION_UPSERT",
                       "record_matchers": [{"field": "External_Id__c", "value": {"path": "properties.sub_id"}}],
                       "field_mappings": [{"field": "Plan__c", "value": {"path": "properties.plan"}}]}

OPS = {op.name: op for op in (
    Op("create", "create", "Lead", _lead("OPERATION_CREATE"), mappings=LEAD_MAPPINGS),
    Op("upsert ext id", "upsert", "Subscription__c", SUBSCRIPTION_UPSERT, "External_Id__c", 0.5,
       SUBSCRIPTION_UPSERT["field_mappings"], native_upsert=True),
    Op("upsert Email", "upsert", "Lead", _lead("OPERATION_UPSERT", "Email", "traits.email"), "Email", 0.5,
       LEAD_MAPPINGS),
    Op("update Email", "update", "Lead", _lead("OPERATION_UPDATE", "Email", "traits.email"), "Email", 1.0,
       LEAD_MAPPINGS),
    Op("delete Id", "delete_by_id", "Lead", _lead("OPERATION_DELETE", "Id", "traits.lead_id"), "Id", 1.0),
)}


def mapped_fields(op: Op, payload: dict[str, Any]) -> dict[str, Any]:
    """The record body the baseline sends: each mapping's value from the event."""
    out = {}
    for m in op.mappings:
        section, _, key = m["value"]["path"].partition(".")
        value = payload.get(section, {}).get(key)
        if value is not None:
            out[m["field"]] = value
    return out


def matcher_value(op: Op, payload: dict[str, Any]) -> Any:
    section, _, key = op.action["record_matchers"][0]["value"]["path"].partition(".")
    return payload.get(section, {}).get(key)
