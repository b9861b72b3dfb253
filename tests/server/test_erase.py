"""The Erase RPC: identifiers translated in, one entry per record found out, invalid requests refused whole."""

from __future__ import annotations

import grpc
from google.protobuf import struct_pb2
from sfdest.v1 import destination_pb2 as pb

from tests.builders import INSTANCE, apply_request, identify_message, lead_create


def erase_request(*identifiers: tuple[str, str, str]) -> pb.EraseRequest:
    return pb.EraseRequest(connection=pb.Connection(instance_url=INSTANCE), identifiers=[
        pb.PersonIdentifier(object=o, field=f, values=[struct_pb2.Value(string_value=v)]) for o, f, v in identifiers])


def test_erase_deletes_the_person_and_answers_per_record(server):
    created = server.apply(apply_request(lead_create(), identify_message("c1", "ann@x.io"), identify_message("c2", "ANN@x.io")))
    ids = {r.record_id for r in created.response.results}
    t = server.call("Erase", erase_request(("Lead", "Email", "ann@x.io")))
    assert t.code is grpc.StatusCode.OK
    assert {r.record_id for r in t.response.records} == ids
    assert {(r.status, r.outcome, r.in_recycle_bin, r.found_by) for r in t.response.records} == {
        (204, pb.OUTCOME_DELETED, True, "identifiers[0] (Lead.Email)")}
    again = server.call("Erase", erase_request(("Lead", "Email", "ann@x.io")))
    assert again.code is grpc.StatusCode.OK and not again.response.records


def test_an_invalid_identifier_refuses_the_request_whole(server):
    server.apply(apply_request(lead_create(), identify_message("c1", "ann@x.io")))
    t = server.call("Erase", erase_request(("Lead", "Email", "ann@x.io"), ("Lead", "No_Such__c", "x")))
    assert t.code is grpc.StatusCode.INVALID_ARGUMENT and "identifiers[1].field" in t.details
    still = server.call("Erase", erase_request(("Lead", "Email", "ann@x.io")))
    assert len(still.response.records) == 1  # nothing was deleted by the refused request


def test_a_refused_hard_delete_says_so_per_record_and_in_the_response(server):
    server.apply(apply_request(lead_create(), identify_message("c1", "ann@x.io")))
    request = erase_request(("Lead", "Email", "ann@x.io"))
    request.hard_delete = True
    t = server.call("Erase", request)
    assert t.code is grpc.StatusCode.OK and "FEATURENOTENABLED" in t.response.hard_delete_refused
    assert [(r.status, r.in_recycle_bin, r.note) for r in t.response.records] == [
        (204, True, "hard delete refused: deleted to the recycle bin")]
