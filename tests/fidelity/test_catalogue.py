"""The exchange catalogue itself: enough real exchanges, every file well-formed, the README's counts true."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.fidelity.adapter_replay import FACES
from tests.fidelity.catalogue import EXCHANGES, KINDS, WITH_ADAPTER

README = Path(__file__).with_name("README.md").read_text(encoding="utf-8")


def test_at_least_sixty_exchanges_each_with_provenance() -> None:
    assert len(EXCHANGES) >= 60
    assert len({e.id for e in EXCHANGES}) == len(EXCHANGES)
    assert all(e.provenance for e in EXCHANGES)


def test_the_readme_counts_match_the_files() -> None:
    counts = Counter(e.kind for e in EXCHANGES)
    for kind in KINDS:
        row = re.search(rf"^\| {kind} \| (\d+) \|$", README, re.MULTILINE)
        assert row is not None, f"README has no count for {kind}"
        assert int(row.group(1)) == counts[kind], f"README says {row.group(1)} {kind}, the files hold {counts[kind]}"
    assert f"{len(EXCHANGES)} exchanges, {len(WITH_ADAPTER)} of them" in README


def test_every_adapter_section_names_a_face_and_an_expectation() -> None:
    for e in WITH_ADAPTER:
        assert e.adapter["face"] in FACES, e.id
        assert "expect" in e.adapter, e.id


def test_the_readme_names_only_real_exchanges() -> None:
    waiting = README.split("## Exchanges that proved other branches' fixes", 1)[1]
    named = set(re.findall(r"`([a-z]+/[a-z0-9-]+)`", waiting))
    assert named <= {e.id for e in EXCHANGES}
