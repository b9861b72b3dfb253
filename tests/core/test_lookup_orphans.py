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


def dotted_i_blind(value, field):
    """An org whose Company equality takes İ for i, as a Turkish-locale org does."""
    key = match_key(value, field)
    if field.name == "Company" and key is not None:
        return ("company", key[1].replace("i\u0307", "i"))
    return key


UPSERT_BY_EMAIL_OR_COMPANY = lead_action(Operation.UPSERT, matchers=(matcher("Email", "traits.email"),
                                                                     matcher("Company", "traits.company")),
                                         mappings=(FieldMapping("LastName", ValueSource.of_literal("Ng")),
                                                   FieldMapping("Email", ValueSource.of_path("traits.email")),
                                                   FieldMapping("Company", ValueSource.of_path("traits.company"))))


def _one_at_a_time_and_as_a_batch(events):
    """The results and the org's Leads, applying the events one Apply each, then as one batch on a fresh org."""
    outcomes = []
    for batched in (False, True):
        backend = backend_with(dotted_i_blind)
        org = backend.org(CONN.instance_url)
        seeded = org.seed("Lead", {"LastName": "Seed", "Email": "a@x.com", "Company": "Bursa-i"})
        service = ApplyService(backend)
        applies = [events] if batched else [[e] for e in events]
        results = [r for batch in applies for r in service.apply(CONN, UPSERT_BY_EMAIL_OR_COMPANY, batch).results]
        leads = sorted((r["Email"], r["Company"]) for r in org.records("Lead"))
        outcomes.append(([(r.status, r.record_id == seeded) for r in results], leads))
    return outcomes


def test_a_look_again_never_targets_a_record_another_write_of_the_round_changes():
    # e1 updates the seeded Lead by Email, moving its Company away; e2 merely resembles its old Company (İ for i):
    # one at a time e2 then creates. As a batch, e2 must wait for e1's write, not update the Lead beside it.
    events = [identify("e1", email="a@x.com", company="Other1"), identify("e2", email="b@x.com", company="Bursa-İ")]
    alone, batched = _one_at_a_time_and_as_a_batch(events)
    assert alone == batched
    assert batched == ([(200, True), (201, False)], [("a@x.com", "Other1"), ("b@x.com", "Bursa-İ")])


def test_a_record_a_look_again_found_is_written_by_no_other_event_of_its_round():
    # e2 finds the seeded Lead only by asking again (İ for i) and moves its Email; e3 then no longer matches it.
    events = [identify("e2", email="b@x.com", company="Bursa-İ"), identify("e3", email="a@x.com", company="Zed")]
    alone, batched = _one_at_a_time_and_as_a_batch(events)
    assert alone == batched
    assert batched == ([(200, True), (201, False)], [("a@x.com", "Zed"), ("b@x.com", "Bursa-İ")])
