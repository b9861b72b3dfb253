"""Fixtures shared by every suite: the Salesforce emulator (`emulator`, `emulator_factory`) and a real Redis
(`redis_server`, one per session)."""

pytest_plugins = ["tests.emulator_fixture", "tests.redis_fixture"]
