"""Match policies: which of several matching records an event writes, and by which rule."""

from __future__ import annotations

from core.model import MatchPolicy
from core.planning import CandidatePool

# The date each rule compares, and whether the greatest wins.
_RULES = {
    MatchPolicy.OLDEST: ("CreatedDate", False),
    MatchPolicy.NEWEST: ("CreatedDate", True),
    MatchPolicy.LAST_MODIFIED: ("LastModifiedDate", True),
}


def policy_attributes(policy: MatchPolicy | None) -> tuple[str, ...]:
    """The fields a lookup must read for the policy to decide."""
    return (_RULES[policy][0],) if policy in _RULES else ()


def choose(policy: MatchPolicy, candidates: list[str], pool: CandidatePool) -> str:
    """The record the rule picks; ties go to the smallest Id."""
    name, greatest = _RULES[policy]
    keys = {c: pool.recency(c, name) for c in candidates}
    best = max(keys.values()) if greatest else min(keys.values())
    return min(c for c in candidates if keys[c] == best)
