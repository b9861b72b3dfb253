"""The composition root: settings, the selected backend, the core services and the servicer."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import fields
from typing import Any

from dependency_injector import containers, providers

from adapters.coordination.budget import InProcessBudgetCounters
from adapters.coordination.local import LocalBulkJobs, LocalKeyLeases, LocalNewestEvents
from adapters.memory.store import MemoryBackend
from core.budget import ApiGovernor, BudgetCounters, BulkBatchCounters
from core.coordination import BulkJobs, EventLedger, KeyLeases, SharedTokens
from core.erasure import EraseService
from core.ordering import NewestEvents
from core.ports import StoreFactory
from core.service import ApplyService, ValidateService
from core.telemetry import Telemetry
from server.config import ConfigError, Secret, Settings
from server.metrics import Metrics
from server.org_limits import OrgLimiter
from server.servicer import DestinationServicer
from server.shutdown import ShutdownClock

_SALESFORCE_MODULE = "adapters.salesforce.backend"


def salesforce_backend(settings: Settings, telemetry: Telemetry | None = None,
                       tokens: SharedTokens | None = None, client: Any = None,
                       bulk_jobs: BulkJobs | None = None) -> StoreFactory:
    """The Salesforce REST backend, imported only when selected so the server runs without it."""
    try:
        module = importlib.import_module(_SALESFORCE_MODULE)
        backend = module.SalesforceBackend
    except ModuleNotFoundError as exc:
        if exc.name not in (_SALESFORCE_MODULE, "adapters.salesforce"):
            raise
        raise ConfigError(f"SFDEST_BACKEND=salesforce, but {_SALESFORCE_MODULE} is not installed in this build; "
                          "use SFDEST_BACKEND=memory") from None
    except AttributeError:
        raise ConfigError(f"SFDEST_BACKEND=salesforce, but {_SALESFORCE_MODULE} has no SalesforceBackend") from None
    kwargs: dict[str, object] = {"api_version": settings.salesforce_api_version,
              "request_timeout_seconds": settings.salesforce_timeout_seconds,
              "allow_loopback_http": settings.salesforce_allow_loopback_http}
    if settings.write_path != "auto":
        kwargs["write_path"] = settings.write_path
    if settings.bulk_from:
        kwargs["bulk_threshold"] = settings.bulk_from
    if settings.salesforce_batch_size != 200:
        kwargs["batch_size"] = settings.salesforce_batch_size
    if settings.api_budget_share < 1 or settings.api_budget_reserve > 0:
        kwargs["budget"] = ApiGovernor(budget_counters(client, settings), settings.api_budget_share,
                                       settings.api_budget_reserve)
    if telemetry is not None and "telemetry" in inspect.signature(backend).parameters:
        kwargs["telemetry"] = telemetry  # calls, retries and API usage, once the adapter reports them
    if tokens is not None:
        kwargs["shared_tokens"] = tokens
    if bulk_jobs is not None and "bulk_jobs" in inspect.signature(backend).parameters:
        kwargs.update(bulk_jobs=bulk_jobs, bulk_lease_seconds=settings.bulk_lease_seconds,
                      bulk_window_seconds=float(settings.idempotency_window_seconds or 86_400))
    if client is not None and "bulk_batches" in inspect.signature(backend).parameters:
        kwargs["bulk_batches"] = shared_bulk_batches(client, settings)
    if client is not None and settings.shared_calls_per_org > 0:
        from adapters.coordination.redis_slots import RedisSlots

        kwargs["shared_slots"] = RedisSlots(client, settings.coordination_timeout_seconds)
        kwargs["shared_calls_per_org"] = settings.shared_calls_per_org
    return backend(**kwargs)


# A reservation is held within one Apply: it outlives a replica that died by at most the longest call and this.
_RESERVATION_SLACK_SECONDS, _RESERVATION_WITHOUT_CALL_LIMIT = 60.0, 3600.0


def budget_counters(client: Any, settings: Settings) -> BudgetCounters:
    """The API budget governor's counters: in process for one replica, or Redis's, shared by every replica."""
    if client is None:
        return InProcessBudgetCounters()
    from adapters.coordination.redis_budget import RedisBudgetCounters

    longest = settings.max_call_seconds or _RESERVATION_WITHOUT_CALL_LIMIT
    return RedisBudgetCounters(client, longest + _RESERVATION_SLACK_SECONDS, settings.coordination_timeout_seconds)


def shared_bulk_batches(client: Any, settings: Settings) -> BulkBatchCounters:
    """Each org's Bulk API batch allowance in Redis, shared by every replica (with local coordination the backend
    keeps its own, in process)."""
    from adapters.coordination.redis_batches import RedisBulkBatches

    return RedisBulkBatches(client, command_seconds=settings.coordination_timeout_seconds)


def redis_client(settings: Settings) -> Any:
    """One Redis client (a connection pool) for every shared adapter, or None with local coordination."""
    if not settings.coordination:
        return None
    from adapters.coordination.redis_leases import connect

    return connect(settings.coordination.value, settings.coordination_timeout_seconds)


def key_leases(client: Any, settings: Settings) -> KeyLeases:
    """In-process leases for one replica, or Redis's, shared by every replica pointing at it."""
    if client is None:
        return LocalKeyLeases()
    from adapters.coordination.redis_leases import RedisKeyLeases

    return RedisKeyLeases(client, settings.coordination_timeout_seconds)


def newest_events(client: Any) -> NewestEvents:
    """Stamps of the newest event per record (newest_event_wins): in process, or Redis's for every replica."""
    if client is None:
        return LocalNewestEvents()
    from adapters.coordination.redis_ordering import RedisNewestEvents

    return RedisNewestEvents(client)


def event_ledger(client: Any, settings: Settings) -> EventLedger | None:
    """Idempotency claims and results shared by every replica (Redis only: one replica keeps none)."""
    if client is None:
        return None
    from adapters.coordination.redis_events import RedisEventLedger

    return RedisEventLedger(client, settings.coordination_timeout_seconds)


def shared_tokens(client: Any, settings: Settings) -> SharedTokens | None:
    """Access tokens sealed in Redis for every replica, when both Redis and a state key are set."""
    if client is None or not settings.state_key:
        return None
    from adapters.coordination.redis_tokens import RedisSharedTokens

    return RedisSharedTokens(client, settings.state_key.value, settings.coordination_timeout_seconds)


def bulk_jobs(client: Any, settings: Settings) -> BulkJobs | None:
    """Running Bulk API jobs a retry picks up: in process for one replica, or sealed in Redis for every replica
    (only with a state key: a job's rows hold customer values; without one, no job is handed over)."""
    if client is None:
        return LocalBulkJobs()
    if not settings.state_key:
        return None
    from adapters.coordination.redis_bulk import RedisBulkJobs

    return RedisBulkJobs(client, settings.state_key.value)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()
    settings = providers.Singleton(Settings)
    metrics = providers.Singleton(Metrics)
    redis = providers.Singleton(redis_client, settings)
    tokens = providers.Singleton(shared_tokens, redis, settings)
    bulk = providers.Singleton(bulk_jobs, redis, settings)

    backend = providers.Selector(
        config.backend,
        memory=providers.Singleton(MemoryBackend, telemetry=metrics, max_orgs=config.memory_max_orgs,
                                   max_records_per_org=config.memory_max_records_per_org),
        salesforce=providers.Singleton(salesforce_backend, settings, metrics, tokens, redis, bulk),
    )
    leases = providers.Singleton(key_leases, redis, settings)
    ledger = providers.Singleton(event_ledger, redis, settings)
    newest = providers.Singleton(newest_events, redis)
    apply_service = providers.Factory(ApplyService, stores=backend, leases=leases, ledger=ledger, newest=newest,
                                      idempotency_window_seconds=config.idempotency_window_seconds,
                                      bulk_jobs=providers.Selector(config.backend, memory=providers.Object(None),
                                                                   salesforce=bulk),
                                      ordering_retention_seconds=config.ordering_retention_seconds)
    validate_service = providers.Factory(ValidateService, stores=backend)
    erase_service = providers.Factory(EraseService, stores=backend)
    org_limiter = providers.Singleton(OrgLimiter, config.max_applies_per_org, config.max_workers)
    shutdown = providers.Singleton(ShutdownClock)
    servicer = providers.Factory(
        DestinationServicer,
        apply_service=apply_service,
        validate_service=validate_service,
        erase_service=erase_service,
        max_events=config.max_events,
        deadline_margin=config.deadline_margin_seconds,
        deadline_fraction=config.deadline_margin_fraction,
        max_call_seconds=config.max_call_seconds,
        metrics=metrics,
        org_limiter=org_limiter,
        backend_name=config.backend,
        memory_accepts_credentials=config.memory_accept_credentials,
        shutdown=shutdown,
    )


def build_container(settings: Settings | None = None) -> Container:
    """A container for `settings` (default: from the environment). Tests override its providers."""
    settings = settings or Settings.from_env()
    container = Container()
    container.settings.override(providers.Object(settings))
    # Secrets stay in Settings (masked repr); the plain-dict configuration never holds them.
    container.config.from_dict({f.name: getattr(settings, f.name) for f in fields(settings)
                                if not isinstance(getattr(settings, f.name), Secret)})
    return container
