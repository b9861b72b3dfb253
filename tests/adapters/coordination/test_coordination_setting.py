"""SFDEST_COORDINATION picks the coordination adapter; its URL (which may carry a password) stays secret."""

from __future__ import annotations

import pytest

from adapters.coordination.local import LocalKeyLeases
from adapters.coordination.redis_leases import RedisKeyLeases
from server.config import ConfigError, Settings
from server.container import build_container


def test_local_by_default_and_redis_when_a_url_is_set(redis_server):
    assert isinstance(build_container(Settings.from_env({})).leases(), LocalKeyLeases)
    shared = build_container(Settings.from_env({"SFDEST_COORDINATION": redis_server.url})).leases()
    assert isinstance(shared, RedisKeyLeases) and shared.acquire("k-setting", 1, None) is not None


def test_the_url_never_shows_in_settings_or_errors():
    settings = Settings.from_env({"SFDEST_COORDINATION": "redis://:hunter2-secret@redis:6379/0"})
    assert "hunter2" not in repr(settings) and settings.public()["SFDEST_COORDINATION"] == "***"
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"SFDEST_COORDINATION": "http://:hunter2-secret@redis"})
    assert "SFDEST_COORDINATION" in str(refused.value) and "hunter2" not in str(refused.value)


def test_the_salesforce_backend_shares_the_bulk_batch_allowance_through_redis_when_set(redis_server):
    from adapters.coordination.redis_batches import RedisBulkBatches
    from adapters.salesforce.bulk_batches import BulkBatches

    alone = build_container(Settings.from_env({"SFDEST_BACKEND": "salesforce"})).backend()
    shared = build_container(Settings.from_env({"SFDEST_BACKEND": "salesforce",
                                                "SFDEST_COORDINATION": redis_server.url})).backend()
    try:
        assert isinstance(alone.bulk_batches, BulkBatches) and isinstance(shared.bulk_batches, RedisBulkBatches)
    finally:
        alone.close()
        shared.close()
