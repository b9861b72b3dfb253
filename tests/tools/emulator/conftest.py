"""Fixtures for the emulator's own tests: the emulator, and an httpx client holding a valid token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests import emulator_fixture as fixture
from tools.emulator.server import Emulator

emulator = fixture.emulator
emulator_factory = fixture.emulator_factory


@pytest.fixture
def api(emulator: Emulator) -> Iterator[httpx.Client]:
    """A client for the data API, authorised with a freshly minted access token."""
    token = emulator.issue_token()
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client

