"""Pytest fixtures for other suites' conftest.py: `emulator` (started, stopped after) and `emulator_factory`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tools.emulator.server import Emulator


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """Call it with Emulator's keyword arguments; every emulator it starts is stopped after the test.

    In a conftest.py: `from tests import emulator_fixture as fixture` then `emulator = fixture.emulator` (and/or
    `emulator_factory = fixture.emulator_factory`).
    """
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        emulator = Emulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A started emulator on a free loopback port, with the default client, user and refresh token."""
    return emulator_factory()
