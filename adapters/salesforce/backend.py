"""SalesforceBackend: the StoreFactory over the Salesforce REST API, owning the shared client and caches."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import httpx

from adapters.salesforce import soql
from adapters.salesforce.allowance import Allowances, CoolOff
from adapters.salesforce.auth import TokenManager, build_grant
from adapters.salesforce.budget_gate import BudgetGate
from adapters.salesforce.bulk import BulkSettings
from adapters.salesforce.bulk_batches import BulkBatches, OrgBatches
from adapters.salesforce.bulk_handover import BulkTracker
from adapters.salesforce.chunking import ChunkSizes
from adapters.salesforce.describe_cache import DescribeCache
from adapters.salesforce.instance_url import token_base_url, validate_instance_url
from adapters.salesforce.retry import RetryPolicy, Timing
from adapters.salesforce.store import COLLECTION_LIMIT, SalesforceStore
from adapters.salesforce.transport import DEFAULT_API_VERSION, OrgState, Session
from adapters.salesforce.transport import api_version as _api_version
from adapters.salesforce.watchdog import Watchdog
from adapters.salesforce.write_routing import WriteRouting
from core.budget import ApiGovernor, BulkBatchCounters
from core.coordination import BulkJobs, SharedSlots, SharedTokens, org_key
from core.model import Connection
from core.ports import BackendError
from core.telemetry import NullTelemetry, Telemetry, org_label
from core.write_paths import AUTO, COLLECTIONS, COMPOSITE, MODES

MAX_ORG_STATES = 10_000


class SalesforceBackend:
    """Opens SalesforceStores; tokens, describes and per-org limits are shared by every store it opens.

    `allow_loopback_http=True` is the emulator mode: an instance URL such as http://127.0.0.1:8080 is
    accepted, and tokens are requested from that same base URL.
    """

    def __init__(
        self,
        api_version: str = DEFAULT_API_VERSION,
        allow_loopback_http: bool = False,
        describe_ttl_seconds: float = 900.0,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        max_in_flight_per_org: int = 10,
        max_attempts: int = 3,
        request_timeout_seconds: float = 30.0,
        max_url_bytes: int = soql.DEFAULT_MAX_URL_BYTES,
        negative_auth_ttl_seconds: float = 60.0,
        batch_size: int = COLLECTION_LIMIT,
        min_write_seconds: float = 0.5,
        bulk_threshold: int | None = None,
        bulk_poll_seconds: tuple[float, float] = (0.5, 10.0),
        bulk_max_upload_bytes: int = 100_000_000,
        retry_policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        telemetry: Telemetry | None = None,
        shared_tokens: SharedTokens | None = None,  # access tokens shared with other replicas
        shared_slots: SharedSlots | None = None,  # with shared_calls_per_org: a cap per org across replicas
        shared_calls_per_org: int = 0,
        use_composite: bool = True,
        budget: ApiGovernor | None = None,
        write_path: str = AUTO,
        bulk_batches_ttl_seconds: float = 3600.0,
        bulk_batches: BulkBatchCounters | None = None,  # each org's DailyBulkApiBatches, shared with other replicas
        bulk_jobs: BulkJobs | None = None,  # running Bulk API jobs, shared so that a retry picks one up
        bulk_lease_seconds: float = 15.0,  # a dead replica's Bulk job is free to another within this
        bulk_window_seconds: float = 86_400.0,  # how long a job stays registered (the idempotency window)
    ):
        try:
            self.api_version = _api_version("", api_version or DEFAULT_API_VERSION)
        except BackendError:
            raise ValueError(f"api_version must look like v62.0, got {api_version!r}") from None
        self.allow_loopback_http = allow_loopback_http
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(
            transport=transport, follow_redirects=False, timeout=request_timeout_seconds,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        self._policy = retry_policy or RetryPolicy(max_attempts=max(1, max_attempts))
        self._timing = Timing(clock=clock, sleep=sleep, wall_clock=wall_clock, rng=rng or random.Random())
        self._timeout = request_timeout_seconds
        self._max_in_flight = max(1, max_in_flight_per_org)
        self._max_url_bytes = max_url_bytes
        self._batch_size = batch_size
        self._min_write = min_write_seconds
        if write_path not in MODES:
            raise ValueError(f"write_path must be one of {', '.join(MODES)}, got {write_path!r}")
        # auto: each write takes the path core.write_paths chooses from the org's remaining allowances; else
        # the operator's path for every write that can take it (collections: every call alone).
        self.write_path = write_path
        # Writes and lookups go five collections or queries to one Composite call (False: one call each).
        self._composite = write_path == COMPOSITE or (use_composite and write_path != COLLECTIONS)
        # Bulk API 2.0 jobs are weighed (or, forced, used) from bulk_threshold records on (0 = never);
        # a job is polled after bulk_poll_seconds[0], backing off to bulk_poll_seconds[1]; an upload (a streamed
        # job) carries at most bulk_max_upload_bytes of CSV.
        self._bulk = BulkSettings(threshold=bulk_threshold, poll_initial_seconds=bulk_poll_seconds[0],
                                  poll_max_seconds=bulk_poll_seconds[1], max_upload_bytes=bulk_max_upload_bytes)
        self.tokens = TokenManager(self._client, self._timing, self._policy, negative_auth_ttl_seconds,
                                   request_timeout_seconds)
        self._describes = DescribeCache(describe_ttl_seconds, clock)
        # The collection chunk size each org's triggers let through, per object (shrunk on governor limits).
        self.chunk_sizes = ChunkSizes(max(1, min(batch_size, COLLECTION_LIMIT)))
        self._orgs: dict[str, OrgState] = {}
        # Each org's daily API allowance, by instance URL: shared by every credential of the org.
        self._allowances = Allowances(lambda: CoolOff(clock))
        # Each org's DailyBulkApiBatches: read from /limits once, counted down by sfdest's own jobs (in this process,
        # or shared by every replica).
        self._wall_clock = wall_clock
        self.bulk_batches = bulk_batches or BulkBatches(wall_clock, bulk_batches_ttl_seconds)
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        self.budget = budget  # the API budget governor (None: spend up to Salesforce's own limit)
        self.tokens.telemetry = self.telemetry
        self.tokens.shared = shared_tokens
        self._shared_slots = shared_slots if shared_calls_per_org > 0 else None
        self._shared_cap = shared_calls_per_org
        self._lock = threading.Lock()
        self._watchdog = Watchdog()
        self._bulk_jobs, self._bulk_lease, self._bulk_window = bulk_jobs, bulk_lease_seconds, bulk_window_seconds

    def _org(self, key: str) -> OrgState:
        """In-flight slots per org (its instance URL), whatever the credentials: an org's concurrent-request
        allowance is the org's; least recently used dropped."""
        with self._lock:
            shared = None if self._shared_slots is None else (
                self._shared_slots, "sfdest:slots:" + org_key(key), self._shared_cap)
            state = self._orgs.pop(key, None) or OrgState(self._max_in_flight, self._watchdog, shared)
            self._orgs[key] = state
            while len(self._orgs) > MAX_ORG_STATES:
                self._orgs.pop(next(iter(self._orgs)))
            return state

    def open(self, connection: Connection, deadline: float | None = None,
             stop: Callable[[], bool] | None = None) -> SalesforceStore:
        """A store for `connection`; validates it without any request (the token is fetched on first use)."""
        base = validate_instance_url(connection.instance_url, self.allow_loopback_http)
        version = _api_version(connection.api_version, self.api_version)
        token_base = token_base_url(connection, base, self.allow_loopback_http)
        grant = build_grant(connection, base, token_base, self._timing)
        session = Session(self._client, base, version, self.tokens, grant, self._org(base.lower()), self._timing,
                          self._policy, deadline, self._timeout, self._min_write, self.telemetry,
                          self._allowances.of(base), budget=BudgetGate(self.budget, base, org_label(base),
                                                                       self.telemetry))
        session.stop = stop
        batches = OrgBatches(self.bulk_batches, base, self._wall_clock)
        session.limits_seen = batches.observe
        identity = (version, grant.key)
        tracker = None if self._bulk_jobs is None else BulkTracker(self._bulk_jobs, base, self._bulk_lease,
                                                                   self._bulk_window)
        return SalesforceStore(session, self._describes, identity, self._max_in_flight, self._max_url_bytes,
                               self._batch_size, self._bulk, self._composite, self.chunk_sizes,
                               WriteRouting(self.write_path, batches), tracker)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SalesforceBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
