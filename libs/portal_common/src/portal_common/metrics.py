"""Prometheus metrics of a service process on <SERVICE>_METRICS_PORT (docs/operations.md, "Metrics
and the dashboard").

Every name starts with `portal_` and carries the label `service`, the service this process runs
(given to `start_server` by start_process); Prometheus adds the instance. The default registry
also carries prometheus_client's process metrics (CPU, memory, open files).

- requests: `server_interceptors()` counts and times every portal.* method (health checks and
  reflection aside) by method and status code;
- database: `instrument_engine` times the statements of an engine, and a collector reads the
  pools of every instrumented engine at scrape time;
- credential cache: `credential_cache_hit` / `credential_cache_miss` (portal_common.auth);
- queues: `watch` registers gauges that a query computes at scrape time, at most every few
  seconds (emails and webhook deliveries waiting, the outbox's backlog).
"""

import logging
import threading
import time
import weakref
from typing import Any, Callable, Iterator

import grpc
import prometheus_client
import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from portal_common.interceptors import BehaviorInterceptor
from portal_common.settings import env_str, metrics_port

log = logging.getLogger(__name__)

# Requests take milliseconds; a PDF render may take seconds; the gateway gives up at 30 s.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# A statement takes tens of microseconds (SQLite) to milliseconds (PostgreSQL over the network).
QUERY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# How long a scrape-time reading (a query) is reused: a scrape storm runs it once per this.
READING_MAX_AGE_SECONDS = 5.0
# Queue depths are counted up to this: a queue that deep is stuck, however deep exactly.
QUEUE_COUNT_LIMIT = 100_000

REQUESTS = prometheus_client.Counter(
    "portal_grpc_requests", "gRPC requests answered, by method and status code", ["service", "method", "code"]
)
REQUEST_SECONDS = prometheus_client.Histogram(
    "portal_grpc_request_duration_seconds",
    "Time from a request's arrival in the service to its answer",
    ["service", "method"],
    buckets=REQUEST_BUCKETS,
)
QUERY_SECONDS = prometheus_client.Histogram(
    "portal_db_query_duration_seconds", "Time of each SQL statement", ["service"], buckets=QUERY_BUCKETS
)
CREDENTIAL_CACHE = prometheus_client.Counter(
    "portal_credential_cache_requests",
    "Credentials resolved from the process's cache (hit) or by asking the auth service (miss)",
    ["service", "result"],
)
DB_CONNECTION_ERRORS = prometheus_client.Counter(
    "portal_db_connection_errors",
    "Database connections lost, or that could not be opened (portal_common.db)",
    ["service"],
)

_service = ""  # this process's service, set by start_server


def start_server(service: str) -> None:
    """Labels this process's metrics with `service` and serves them over HTTP on its metrics port
    (none when it is 0), on PORTAL_METRICS_BIND_HOST, else PORTAL_BIND_HOST, else 127.0.0.1."""
    global _service
    _service = service
    prometheus_client.disable_created_metrics()  # the *_created series: a third of the output, unused
    # Counters that are 0 until something happens are shown from the start: rate() and the
    # dashboard see a series, and an alert on its increase works from the first event.
    CREDENTIAL_CACHE.labels(service, "hit")
    CREDENTIAL_CACHE.labels(service, "miss")
    DB_CONNECTION_ERRORS.labels(service)
    port = metrics_port(service)
    if port:
        host = env_str("PORTAL_METRICS_BIND_HOST", env_str("PORTAL_BIND_HOST", "127.0.0.1"))
        prometheus_client.start_http_server(port, addr=host)
        log.info("serving metrics on %s:%d", host, port)


class _RequestMetrics(BehaviorInterceptor):
    """Counts and times each request (about 5 µs of CPU: bench/README.md, "Metrics overhead")."""

    def __init__(self) -> None:
        super().__init__()
        # The histogram's and the counter's children by method and code, found with one lookup.
        self._children: dict[tuple[str, grpc.StatusCode], tuple[Any, Any]] = {}

    def around(self, method, behavior, request, context):
        started = time.perf_counter()
        try:
            response = behavior(request, context)
        except BaseException:
            self._record(method, context.code() or grpc.StatusCode.UNKNOWN, started)
            raise
        self._record(method, context.code() or grpc.StatusCode.OK, started)
        return response

    def _record(self, method: str, code, started: float) -> None:
        elapsed = time.perf_counter() - started
        children = self._children.get((method, code))
        if children is None:
            name = method[1:]  # "/portal.crm.v1.CrmService/GetContact" -> "portal.crm.v1.CrmService/GetContact"
            children = (_child(REQUEST_SECONDS, _service, name), _child(REQUESTS, _service, name, code.name))
            self._children[(method, code)] = children
        children[0].observe(elapsed)
        children[1].inc()


def server_interceptors() -> list:
    return [_RequestMetrics()]


# Children of the metrics on the hot path by their labels: labels() costs several times an inc().
_children: dict[tuple, Any] = {}


def _child(metric: prometheus_client.metrics.MetricWrapperBase, *labels: str) -> Any:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def credential_cache_hit() -> None:
    _child(CREDENTIAL_CACHE, _service, "hit").inc()


def credential_cache_miss() -> None:
    _child(CREDENTIAL_CACHE, _service, "miss").inc()


def database_connection_error() -> None:
    DB_CONNECTION_ERRORS.labels(_service).inc()


def observe_query(seconds: float) -> None:
    _child(QUERY_SECONDS, _service).observe(seconds)


_engines: "weakref.WeakSet[sa.Engine]" = weakref.WeakSet()


def instrument_engine(engine: sa.Engine) -> None:
    """Times every statement `engine` runs, and adds its pool to the pool gauges."""
    _engines.add(engine)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _started(conn, cursor, statement, parameters, context, executemany):
        conn.info["portal_query_started"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _finished(conn, cursor, statement, parameters, context, executemany):
        observe_query(time.perf_counter() - conn.info.pop("portal_query_started"))


class _PoolCollector(Collector):
    """The connection pools of the instrumented engines, summed over the process's engines."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pools = [engine.pool for engine in list(_engines) if isinstance(engine.pool, sa.QueuePool)]
        figures = {
            "portal_db_pool_checked_out": ("Database connections in use", [p.checkedout() for p in pools]),
            "portal_db_pool_size": ("Database connections a pool keeps open", [p.size() for p in pools]),
            "portal_db_pool_overflow": (
                "Database connections open beyond the pools' sizes (up to their max_overflow)",
                [max(p.overflow(), 0) for p in pools],
            ),
        }
        for name, (documentation, values) in figures.items():
            family = GaugeMetricFamily(name, documentation, labels=["service"])
            family.add_metric([_service], sum(values))
            yield family


prometheus_client.REGISTRY.register(_PoolCollector())


class _Reading(Collector):
    """A gauge whose value `read` computes (a query) at scrape time, at most every
    READING_MAX_AGE_SECONDS: a scrape storm cannot hammer the database. When `read` fails (the
    database is down), the gauge is left out of the scrape rather than shown stale."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]):
        self._name = name
        self._documentation = documentation
        self._read = read
        self._lock = threading.Lock()
        self._value: float | None = None
        self._read_at = float("-inf")

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self._name, self._documentation, labels=["service"])

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if time.monotonic() - self._read_at >= READING_MAX_AGE_SECONDS:
                try:
                    self._value = self._read()
                except Exception as error:
                    log.warning("reading %s failed: %s", self._name, error)
                    self._value = None
                self._read_at = time.monotonic()
            value = self._value
        if value is not None:
            family = self._family()
            family.add_metric([_service], value)
            yield family


def watch(name: str, documentation: str, read: Callable[[], float]) -> None:
    """Adds the gauge `name` to this process's metrics, its value from `read` at scrape time.
    For a service's main(): a process registers each gauge once."""
    prometheus_client.REGISTRY.register(_Reading(name, documentation, read))
