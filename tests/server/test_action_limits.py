"""Action sizes: matchers and mappings are capped early with a clear 400 naming the field and the limit, and
validation work grows linearly with them (counted in calls to sfdest's own functions, never timed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sfdest.v1 import destination_pb2 as pb
from sfdest.v1 import destination_pb2_grpc

from core.validation import MAX_MAPPINGS, MAX_MATCHERS, MAX_PATHS
from tests.builders import INSTANCE, action, apply_request, identify_message
from tests.server.calls import SAFETY_LIMIT

ROOT = Path(__file__).resolve().parents[2]
_OURS = tuple(str(ROOT / layer) for layer in ("core", "adapters", "server"))


@contextmanager
def counted_calls() -> Iterator[list[int]]:
    """Counts calls (Python and built-in) made from sfdest's own code, in threads started inside the block: a
    measure of work that, unlike time, a loaded machine does not change."""
    count = [0]
    on = [True]

    def profile(frame, event, _arg):
        if on[0] and event in ("call", "c_call") and frame.f_code.co_filename.startswith(_OURS):
            count[0] += 1

    threading.setprofile(profile)
    try:
        yield count
    finally:
        on[0] = False
        threading.setprofile(None)  # type: ignore[arg-type]


def _mappings(n: int) -> list[dict]:
    return [{"field": f"Field{i}__c", "value": {"path": f"traits.f{i}"}} for i in range(n)]


def _matchers(n: int) -> list[dict]:
    return [{"field": f"Key{i}__c", "value": {"path": f"traits.k{i}"}} for i in range(n)]


def _validate(start: Callable, act: pb.Action) -> tuple[pb.ValidateResponse, int]:
    """Validate `act` against a fresh server (its threads start inside the count), with the work it took."""
    with counted_calls() as count:
        _, channel = start()
        stub = destination_pb2_grpc.DestinationServiceStub(channel)
        request = pb.ValidateRequest(action=act)
        request.connection.instance_url = INSTANCE
        response = stub.Validate(request, timeout=SAFETY_LIMIT)
    return response, count[0]


def test_mappings_at_the_cap_validate_with_linear_work(start):
    half, _ = _validate(start, action(object="Lead", operation="OPERATION_UPDATE",
                                      record_matchers=_matchers(1), field_mappings=_mappings(MAX_MAPPINGS // 2)))
    full, work = _validate(start, action(object="Lead", operation="OPERATION_UPDATE",
                                         record_matchers=_matchers(1), field_mappings=_mappings(MAX_MAPPINGS)))
    _, half_work = _validate(start, action(object="Lead", operation="OPERATION_UPDATE",
                                           record_matchers=_matchers(1), field_mappings=_mappings(MAX_MAPPINGS // 2)))
    codes = {d.code for d in full.diagnostics}
    assert "UNKNOWN_FIELD" in codes and "TOO_MANY_MAPPINGS" not in codes
    assert work < 2.3 * half_work, f"{work} calls for {MAX_MAPPINGS} mappings, {half_work} for half as many"


def test_too_many_matchers_are_refused_with_work_linear_in_their_count(start):
    few, few_work = _validate(start, action(object="Lead", operation="OPERATION_UPSERT", record_matchers=_matchers(1000)))
    many, many_work = _validate(start, action(object="Lead", operation="OPERATION_UPSERT",
                                              record_matchers=_matchers(2000)))
    assert [(d.code, d.field_path) for d in many.diagnostics] == [("TOO_MANY_MATCHERS", "action.record_matchers")]
    assert f"at most {MAX_MATCHERS}" in many.diagnostics[0].message and "2000" in many.diagnostics[0].message
    assert many_work < 2.3 * few_work, f"{many_work} calls for 2000 matchers, {few_work} for 1000"


def test_an_apply_over_the_mapping_cap_answers_400_naming_the_field_and_the_limit(start):
    _, channel = start()
    act = action(object="Lead", operation="OPERATION_CREATE", field_mappings=_mappings(MAX_MAPPINGS + 1))
    response = destination_pb2_grpc.DestinationServiceStub(channel).Apply(
        apply_request(act, identify_message("e1", "a@x.io")), timeout=SAFETY_LIMIT)
    result = response.results[0]
    assert (result.status, result.error.code) == (400, "INVALID_ACTION")
    problems = [response.diagnostics[i] for i in result.diagnostic_indexes]
    assert [(d.code, d.field_path) for d in problems] == [("TOO_MANY_MAPPINGS", "action.field_mappings")]
    assert f"at most {MAX_MAPPINGS}" in problems[0].message


def test_a_first_of_with_too_many_paths_is_refused_naming_its_path(start):
    paths = [f"traits.p{i}" for i in range(MAX_PATHS + 1)]
    response, _ = _validate(start, action(object="Lead", operation="OPERATION_CREATE", field_mappings=[
        {"field": "LastName", "value": {"literal": "L"}}, {"field": "Company", "value": {"firstOf": {"paths": paths}}}]))
    assert [(d.code, d.field_path) for d in response.diagnostics] == [
        ("TOO_MANY_PATHS", "action.field_mappings[1].value.first_of.paths")]
    assert f"at most {MAX_PATHS} paths" in response.diagnostics[0].message
