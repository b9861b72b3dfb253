"""Fixtures for the batch engine tests: the Salesforce adapter over real HTTP to the emulator."""

from __future__ import annotations

from tests.emulator_fixture import emulator, emulator_factory  # noqa: F401  (fixtures)
