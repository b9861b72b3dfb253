"""Fixtures shared by every suite: the Salesforce emulator (`emulator`, `emulator_factory`)."""

pytest_plugins = ["tests.emulator_fixture"]
