"""Fixtures of the recorded-exchange suite: an emulator per test (the suite's real HTTP server)."""

from __future__ import annotations

from tests import emulator_fixture as fixture

emulator = fixture.emulator
emulator_factory = fixture.emulator_factory
