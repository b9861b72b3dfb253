"""Request paths: built step by step, immutable, printed as the host reads them."""

from __future__ import annotations

from core.paths import ACTION, FIELD_MAPPINGS, NOWHERE, Path


def test_a_path_prints_fields_indexes_and_arguments():
    assert str(Path.root("action").field("field_mappings").index(3).field("field")) == "action.field_mappings[3].field"
    assert str(ACTION.field("preset").argument("lead").field("FirstName")) == "action.preset(lead).FirstName"
    assert f"{Path.root('events').index(0):<12}|" == "events[0]   |"
    assert str(NOWHERE) == "" and not NOWHERE and ACTION


def test_paths_are_values_and_each_step_makes_a_new_one():
    mapping = FIELD_MAPPINGS.index(2)
    assert mapping.field("value") == FIELD_MAPPINGS.index(2).field("value")
    assert str(mapping) == "action.field_mappings[2]"
    assert len({mapping, FIELD_MAPPINGS.index(2), FIELD_MAPPINGS.index(1)}) == 2
    assert mapping.field("value").startswith(FIELD_MAPPINGS) and not ACTION.startswith(FIELD_MAPPINGS)
