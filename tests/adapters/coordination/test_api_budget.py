"""The API budget governor's policy over the in-process counters (a fake clock: counts, not time)."""

from __future__ import annotations

import pytest

from adapters.coordination.budget import InProcessBudgetCounters
from core.budget import WINDOW_SECONDS, ApiGovernor

ORG = "acme.my.salesforce.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def governor(share: float = 1.0, reserve: float = 0.2) -> tuple[ApiGovernor, Clock]:
    clock = Clock()
    return ApiGovernor(InProcessBudgetCounters(clock), share, reserve), clock


def test_an_org_it_knows_nothing_of_is_not_held_back():
    g, _ = governor()
    assert g.reserve(ORG, 5).granted and g.left(ORG) is None


def test_reservations_stop_at_the_reserve_and_count_what_they_refuse():
    g, _ = governor(reserve=0.2)
    g.counters.observe(ORG, 11_990, 15_000)
    assert g.reserve(ORG, 6).granted
    refused = g.reserve(ORG, 5)  # 11,990 + 6 reserved + 5 > 12,000
    assert not refused.granted and refused.retry_after_seconds >= 60
    assert g.reserve(ORG, 4).granted
    state = g.counters.state(ORG)
    assert (state.reserved, state.refused) == (10, 5) and g.left(ORG) == 0


def test_committed_calls_count_as_used_and_released_ones_free_their_place():
    g, _ = governor(reserve=0.2)
    g.counters.observe(ORG, 11_990, 15_000)
    assert g.reserve(ORG, 10).granted
    g.counters.commit(ORG, 4)
    g.counters.release(ORG, 6)
    state = g.counters.state(ORG)
    assert (state.org_used, state.own_used, state.reserved) == (11_994, 4, 0) and g.left(ORG) == 6


def _two_answers_out_of_order() -> ApiGovernor:
    """Two calls in flight: Salesforce counted the first sent at 11,991 and the second at 11,992, and the second's
    answer came back first."""
    g, _ = governor(reserve=0.2)
    g.counters.observe(ORG, 11_990, 15_000)
    assert g.reserve(ORG, 1).granted and g.reserve(ORG, 1).granted
    g.counters.commit(ORG, 1, (11_992, 15_000))
    g.counters.commit(ORG, 1, (11_991, 15_000))
    return g


def test_the_last_answer_of_calls_in_flight_together_never_lowers_the_count_an_earlier_answer_gave():
    # The first's older count must not win when it lands last (that let one call past).
    g = _two_answers_out_of_order()
    assert g.counters.state(ORG).org_used >= 11_992
    granted = 0
    while g.reserve(ORG, 1).granted and granted < 20:
        granted += 1
    assert granted <= 8  # 11,992 counted at Salesforce: 8 more reach 12,000; a ninth would be the 12,001st


def test_once_quiet_a_lower_count_from_salesforce_is_taken_as_calls_age_out():
    g = _two_answers_out_of_order()
    assert g.reserve(ORG, 1).granted
    g.counters.commit(ORG, 1, (11_500, 15_000))  # one call alone: its answer is the org's count now
    assert g.counters.state(ORG).org_used == 11_500


def test_the_share_caps_sfdests_own_calls_whatever_the_org_has_left():
    g, _ = governor(share=0.001, reserve=0.0)  # 15 of 15,000
    g.counters.observe(ORG, 100, 15_000)
    assert g.reserve(ORG, 15).granted
    g.counters.commit(ORG, 15)
    assert not g.reserve(ORG, 1).granted and g.left(ORG) == 0


def test_room_comes_back_as_calls_age_out_of_the_window_after_retry_after():
    g, clock = governor(reserve=0.2)
    g.counters.observe(ORG, 12_000, 15_000)
    refused = g.reserve(ORG, 10)
    assert not refused.granted
    clock.now += refused.retry_after_seconds
    assert g.reserve(ORG, 10).granted


def test_own_calls_leave_the_share_a_day_later():
    g, clock = governor(share=0.001, reserve=0.0)
    g.counters.observe(ORG, 0, 15_000)
    assert g.reserve(ORG, 15).granted
    g.counters.commit(ORG, 15)
    clock.now += WINDOW_SECONDS + 3600
    assert g.reserve(ORG, 15).granted


@pytest.mark.parametrize(("share", "reserve"), [(0, 0.1), (1.5, 0), (1, 1), (0.5, -0.1)])
def test_a_share_or_reserve_out_of_range_is_refused(share, reserve):
    with pytest.raises(ValueError):
        ApiGovernor(InProcessBudgetCounters(), share, reserve)
