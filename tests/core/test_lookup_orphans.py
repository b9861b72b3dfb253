"""A record the lookup returned is never ignored, even when the org's equality is one core does not know."""

from __future__ import annotations

from core.coercion import match_key
from core.model import Connection, FieldMapping, Operation, Outcome, ValueSource
from core.service import ApplyService
from tests.builders import identify, lead_action, matcher

CONN = Connection("https://orphans.my.salesforce.com")
UPSERT_BY_COMPANY = lead_action(Operation.UPSERT, matchers=(matcher("Company", "traits.company"),),
                                mappings=(FieldMapping("LastName", ValueSource.of_literal("Ng")),))


def digits_blind(value, field):
    """An org whose Company equality ignores trailing digits: nothing core could guess."""
    key = match_key(value, field)
    if field.name == "Company" and key is not None:
        return ("company", key[1].rstrip("0123456789"))
    return key


def backend_with(key):
    from adapters.memory.store import MemoryBackend

    backend = MemoryBackend()
    backend.org(CONN.instance_url).use_key(key, key)
    return backend


def apply(backend, *companies):
    events = [identify(f"e{i}", company=c) for i, c in enumerate(companies)]
    return ApplyService(backend).apply(CONN, UPSERT_BY_COMPANY, events).results


def test_a_returned_record_resembling_no_event_goes_to_the_only_event():
    backend = backend_with(digits_blind)
    rid = backend.org(CONN.instance_url).seed("Lead", {"LastName": "Seed", "Company": "Acme7"})
    [result] = apply(backend, "Acme1")
    assert (result.status, result.record_id) == (200, rid)
    assert len(backend.org(CONN.instance_url).records("Lead")) == 1


def test_a_returned_record_no_event_can_claim_blocks_every_create_of_the_lookup():
    backend = backend_with(digits_blind)
    rid = backend.org(CONN.instance_url).seed("Lead", {"LastName": "Seed", "Company": "Acme7"})
    results = apply(backend, "Acme1", "Zeta")
    assert [(r.status, r.outcome) for r in results] == [(300, Outcome.AMBIGUOUS)] * 2
    assert all(r.matched_ids == (rid,) for r in results)
    assert len(backend.org(CONN.instance_url).records("Lead")) == 1



def test_in_a_cascade_the_first_group_s_returned_record_is_claimed_before_any_fallback():
    from dataclasses import replace

    from core.model import MatcherGroup, group_path

    backend = backend_with(digits_blind)
    org = backend.org(CONN.instance_url)
    rid = org.seed("Lead", {"LastName": "Seed", "Company": "Acme7"})
    other = org.seed("Lead", {"LastName": "Other", "Company": "Elsewhere", "Email": "ann@x.com"})
    action = replace(UPSERT_BY_COMPANY, fallback_matchers=(MatcherGroup((matcher("Email", "traits.email"),)),))
    [result] = ApplyService(backend).apply(CONN, action, [identify("e1", company="Acme1", email="ann@x.com")]).results
    assert (result.status, result.record_id, result.matched_group) == (200, rid, group_path(0))
    assert org.get("Lead", other)["LastName"] == "Other"
    assert len(org.records("Lead")) == 2


def spaces_blind(value, field):
    """An org whose Company equality ignores spaces."""
    key = match_key(value, field)
    if field.name == "Company" and key is not None:
        return ("company", key[1].replace(" ", ""))
    return key


def test_a_fallback_group_looks_again_before_creating_beside_a_resembling_record_the_batch_created():
    from dataclasses import replace

    from core.model import MatcherGroup, group_path

    backend = backend_with(spaces_blind)
    action = replace(lead_action(Operation.UPSERT, matchers=(matcher("Email", "traits.email"),),
                                 mappings=(FieldMapping("LastName", ValueSource.of_literal("Ng")),
                                           FieldMapping("Company", ValueSource.of_path("traits.company")))),
                     fallback_matchers=(MatcherGroup((matcher("Company", "traits.company"),)),))
    first, second = ApplyService(backend).apply(CONN, action, [identify("e0", email="a@x.com", company="Acme One"),
                                                                identify("e1", email="b@x.com", company="AcmeOne")]).results
    assert first.outcome is Outcome.CREATED
    assert (second.status, second.record_id, second.matched_group) == (200, first.record_id, group_path(1))
    assert len(backend.org(CONN.instance_url).records("Lead")) == 1


def test_a_fallback_group_s_returned_record_goes_to_the_event_that_reached_the_group():
    from dataclasses import replace

    from core.model import MatcherGroup, group_path

    backend = backend_with(digits_blind)
    rid = backend.org(CONN.instance_url).seed("Lead", {"LastName": "Seed", "Company": "Acme7"})
    action = replace(lead_action(Operation.UPSERT, matchers=(matcher("Email", "traits.email"),),
                                 mappings=(FieldMapping("LastName", ValueSource.of_literal("Ng")),)),
                     fallback_matchers=(MatcherGroup((matcher("Company", "traits.company"),)),))
    [result] = ApplyService(backend).apply(CONN, action, [identify("e0", email="a@x.com", company="Acme1")]).results
    assert (result.status, result.record_id, result.matched_group) == (200, rid, group_path(1))
    assert len(backend.org(CONN.instance_url).records("Lead")) == 1
