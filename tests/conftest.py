"""Fixtures shared by every suite: the Salesforce emulator (`emulator`, `emulator_factory`) and a real Redis
(`redis_server`, one per session), and the Hypothesis profiles (tests/hypothesis_profiles.py)."""

pytest_plugins = ["tests.hypothesis_profiles", "tests.emulator_fixture", "tests.redis_fixture"]
