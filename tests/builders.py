"""The one place tests build what they send: domain actions and events (core's model), and the proto
messages (ApplyRequest, Action, Event, Connection) hosts send over gRPC."""

from __future__ import annotations

import json
import uuid
from typing import Any

from google.protobuf import json_format
from sfdest.v1 import destination_pb2 as pb

from core.model import (
    Action,
    Connection,
    Event,
    FieldMapping,
    MatcherOperator,
    Operation,
    Preset,
    RecordMatcher,
    ValueSource,
)
from server.config import Settings
from tools.emulator.server import CLIENT_ID, CLIENT_SECRET, USERNAME, Emulator

# ---- Domain: actions and events as core sees them ----------------------------------------------------------

CONN = Connection("https://acme.my.salesforce.com")
OTHER_TENANT = Connection("https://globex.my.salesforce.com")
SUB = "Subscription__c"


def path(*paths: str) -> ValueSource:
    return ValueSource.of_path(*paths)


def matcher(field: str, *paths: str) -> RecordMatcher:
    return RecordMatcher(field, path(*paths))


LEAD_FIELDS = (FieldMapping("LastName", path("traits.last_name")), FieldMapping("Company", path("traits.company")),
               FieldMapping("Email", path("traits.email")), FieldMapping("FirstName", path("traits.first_name")))
LEAD_FIELDS_WITH_PHONE_TITLE = LEAD_FIELDS + (FieldMapping("Phone", path("traits.phone")),
                                              FieldMapping("Title", path("traits.title")))


def mapping(field: str, *paths: str) -> FieldMapping:
    return FieldMapping(field, path(*paths))


def lead_action(operation: Operation, matchers: tuple[RecordMatcher, ...] = (),
                operator: MatcherOperator | None = None, mappings: tuple[FieldMapping, ...] = LEAD_FIELDS,
                preset: Preset | None = None, object_name: str = "Lead") -> Action:
    """A Lead action (or `object_name`'s), matching on Email unless it creates or names its matchers."""
    if operation is not Operation.CREATE and not matchers:
        matchers = (matcher("Email", "traits.email"),)
    return Action(object_name, operation, matchers, operator, mappings, preset)


def lead(operation: Operation, *matchers: RecordMatcher, operator: MatcherOperator | None = None,
         mappings: tuple[FieldMapping, ...] = LEAD_FIELDS_WITH_PHONE_TITLE) -> Action:
    """lead_action with Phone and Title mapped too, and no mappings for a delete."""
    return lead_action(operation, matchers, operator, mappings if operation is not Operation.DELETE else ())


def by_id(operation: Operation) -> Action:
    return lead(operation, matcher("Id", "traits.lead_id"))


def subscription_upsert() -> Action:
    return Action(SUB, Operation.UPSERT, (matcher("External_Id__c", "properties.sub_id"),), None,
                  (FieldMapping("Plan__c", path("properties.plan")), FieldMapping("Seats__c", path("properties.seats"))))


def identify_only(event_id: str | int, **traits: Any) -> Event:
    """An identify carrying exactly `traits`."""
    return Event(str(event_id), {"type": "identify", "userId": f"u-{event_id}", "traits": traits})


def identify(event_id: str, **traits: Any) -> Event:
    """An identify with the fields a Lead needs (LastName, Company) unless given."""
    traits.setdefault("last_name", "Ng")
    traits.setdefault("company", "Acme")
    return identify_only(event_id, **traits)


def person(event_id: str, email: str, **traits: Any) -> Event:
    return identify(event_id, email=email, **traits)


def track(event_id: str, **properties: Any) -> Event:
    return Event(event_id, {"type": "track", "userId": f"u-{event_id}", "properties": properties})


# ---- Messages: what a host sends over gRPC ------------------------------------------------------------------

INSTANCE = "https://acme.my.salesforce.com"


def local_settings(**settings: Any) -> Settings:
    """Settings for a test server: a free loopback port, no metrics endpoint (unless given), and `settings`."""
    return Settings(**{"listen": "127.0.0.1:0", "metrics_listen": "", **settings})


def action(**fields: Any) -> pb.Action:
    """An Action from its proto JSON form, e.g. action(object="Lead", operation="OPERATION_UPSERT")."""
    return json_format.ParseDict(fields, pb.Action())


def lead_create() -> pb.Action:
    return action(object="Lead", operation="OPERATION_CREATE",
                  field_mappings=[{"field": "LastName", "value": {"path": "traits.last_name"}},
                                  {"field": "Company", "value": {"literal": "Acme"}},
                                  {"field": "Email", "value": {"path": "traits.email"}}])


def lead_upsert_on_email() -> pb.Action:
    upsert = lead_create()
    upsert.operation = pb.OPERATION_UPSERT
    upsert.record_matchers.add(field="Email").value.path = "traits.email"
    return upsert


UPSERT_LEAD_ON_EMAIL = lead_upsert_on_email()


def subscription_upsert_message() -> pb.Action:
    """Subscription__c upserted on its external id (Salesforce's own upsert: no lookup), Plan__c mapped."""
    return action(object="Subscription__c", operation="OPERATION_UPSERT",
                  record_matchers=[{"field": "External_Id__c", "value": {"path": "properties.sub_id"}}],
                  field_mappings=[{"field": "Plan__c", "value": {"path": "properties.plan"}}])


def track_message(event_id: str, sub_id: str, plan: str = "gold") -> pb.Event:
    event = pb.Event(id=event_id)
    event.payload.update({"type": "track", "userId": f"u-{event_id}", "properties": {"sub_id": sub_id, "plan": plan}})
    return event


def identify_message(event_id: str, email: str, last_name: str = "Lovelace", as_json: bool = False) -> pb.Event:
    payload = {"type": "identify", "userId": f"u-{event_id}", "traits": {"email": email, "last_name": last_name}}
    if as_json:
        return pb.Event(id=event_id, payload_json=json.dumps(payload))
    event = pb.Event(id=event_id)
    event.payload.update(payload)
    return event


def apply_request(act: pb.Action, *events: pb.Event, dry_run: bool = False,
                  instance_url: str = INSTANCE) -> pb.ApplyRequest:
    request = pb.ApplyRequest(action=act, events=list(events), dry_run=dry_run)
    request.connection.instance_url = instance_url
    return request


def grant_connection(emu: Emulator, grant: str) -> pb.Connection:
    """A connection to the emulator through one OAuth `grant`, with credentials no other test uses, so the
    server's token and describe caches (keyed by instance URL and credentials) cannot carry over from an earlier
    emulator on the same port."""
    unique = uuid.uuid4().hex
    grants: dict[str, dict[str, str]] = {
        "oauth_refresh_token": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                "refresh_token": f"refresh-{unique}"},
        "client_credentials": {"client_id": f"app-{unique}", "client_secret": CLIENT_SECRET},
        "jwt_bearer": {"client_id": CLIENT_ID, "username": USERNAME, "private_key_pem": emu.new_jwt_key()},
        "username_password": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                              "username": f"{unique}@sfdest.emulator", "password": "pw", "security_token": "TOK"},
    }
    emu.add_refresh_token(grants["oauth_refresh_token"]["refresh_token"], CLIENT_ID, USERNAME)
    emu.add_client(grants["client_credentials"]["client_id"], CLIENT_SECRET, run_as=USERNAME)
    emu.add_user(grants["username_password"]["username"], "pw", "TOK")
    return json_format.ParseDict({"instance_url": emu.base_url, grant: grants[grant]}, pb.Connection())
