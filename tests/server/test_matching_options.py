"""Fallback matcher groups and match policies through the gRPC face: translated in, reported out."""

from __future__ import annotations

from sfdest.v1 import destination_pb2 as pb

from server import translate
from tests.builders import action, apply_request, identify_message, lead_create

BY_LAST_NAME = {"record_matchers": [{"field": "LastName", "value": {"path": "traits.last_name"}}]}


def cascade(**options) -> pb.Action:
    return action(**{"object": "Lead", "operation": "OPERATION_UPDATE",
                     "record_matchers": [{"field": "Email", "value": {"path": "traits.email"}}],
                     "fallback_matchers": [BY_LAST_NAME],
                     "field_mappings": [{"field": "Title", "value": {"literal": "VP"}}], **options})


def test_the_action_options_translate_to_core():
    translated = translate.action(cascade(match_policy="MATCH_POLICY_LAST_MODIFIED"))
    assert translated.match_policy.value == "LAST_MODIFIED"
    [group] = translated.fallback_matchers
    assert [m.field for m in group.matchers] == ["LastName"] and group.operator is None
    unknown = translate.action(action(object="Lead", match_policy=99, fallback_matchers=[
        {**BY_LAST_NAME, "matcher_operator": 7}]))
    assert {(str(path), raw) for path, raw, _ in unknown.unknown_enum_values} == {
        ("action.match_policy", 99), ("action.fallback_matchers[0].matcher_operator", 7)}


def test_results_name_the_group_and_the_rule(server):
    created = server.apply(apply_request(lead_create(), identify_message("c1", "one@x.io", "Hopper"),
                                         identify_message("c2", "two@x.io", "Hopper"))).response.results
    request = apply_request(cascade(match_policy="MATCH_POLICY_OLDEST"), identify_message("u", "none@x.io", "Hopper"))
    [result] = server.apply(request).response.results
    assert (result.status, result.matched_group, result.chosen_by) == (200, "action.fallback_matchers[0]", "OLDEST")
    assert sorted(result.matched_ids) == sorted(r.record_id for r in created)


def test_validate_reports_a_fallback_group_problem_with_its_path(server):
    bad = cascade(fallback_matchers=[{"record_matchers": [{"field": "Bad Name", "value": {"path": "traits.x"}}]}])
    response = server.validate(pb.ValidateRequest(action=bad)).response
    assert not response.valid
    assert [d.field_path for d in response.diagnostics if d.code == "INVALID_NAME"] == [
        "action.fallback_matchers[0].record_matchers[0].field"]


def test_the_readme_example_action_is_the_example_file_and_is_valid(server):
    import json
    import re
    from pathlib import Path

    from google.protobuf import json_format

    root = Path(__file__).resolve().parents[2]
    section = (root / "README.md").read_text().split("## Matching options", 1)[1].split("\n## ", 1)[0]
    shown = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    assert shown == json.loads((root / "tests" / "examples" / "lead-cascade.json").read_text())
    response = server.validate(pb.ValidateRequest(action=json_format.ParseDict(shown, pb.Action()))).response
    assert response.valid, list(response.diagnostics)


def test_the_readme_follow_merges_example_is_the_example_file_and_follows_merges_on_upsert(server):
    import json
    import re
    from pathlib import Path

    from google.protobuf import json_format

    root = Path(__file__).resolve().parents[2]
    section = (root / "README.md").read_text().split("## Matching options", 1)[1].split("\n## ", 1)[0]
    merged = section.split("- **Merged records**", 1)[1]
    shown = json.loads(re.search(r"```json\n(.*?)```", merged, re.S).group(1))
    assert shown == json.loads((root / "tests" / "examples" / "lead-upsert-follow-merges.json").read_text())
    example = json_format.ParseDict(shown, pb.Action())
    response = server.validate(pb.ValidateRequest(action=example)).response
    assert response.valid and not list(response.diagnostics)  # no FOLLOW_MERGES_IGNORED for an upsert
    assert translate.action(example).follow_merges


def test_the_readme_hard_delete_erase_example_is_a_valid_request():
    import json
    import re
    from pathlib import Path

    from google.protobuf import json_format

    root = Path(__file__).resolve().parents[2]
    section = (root / "README.md").read_text().split("## Erasing a person", 1)[1].split("\n## ", 1)[0]
    [request] = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S) if "hardDelete" in block]
    assert json_format.ParseDict(request, pb.EraseRequest()).hard_delete
