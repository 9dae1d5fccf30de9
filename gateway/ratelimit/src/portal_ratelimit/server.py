"""Envoy's global rate-limit service (envoy.service.ratelimit.v3.RateLimitService) for the portal.

Every gateway asks it about each request (`envoy.filters.http.ratelimit` in gateway/envoy.yaml.in);
it counts in Redis (limits.FixedWindows), so a limit holds across gateways. When Redis does not
answer it fails open: OK, the error counted in `portal_ratelimit_redis_errors_total` and said in a
warning line at most every LOG_EVERY_SECONDS.

Settings: PORTAL_RATE_LIMIT_REDIS_URL, RATELIMIT_CONFIG (the rules' JSON file), RATELIMIT_GRPC_PORT
(50056), RATELIMIT_METRICS_PORT (9106; 0: none), PORTAL_BIND_HOST (127.0.0.1), PORTAL_LOG_FORMAT.
"""

import json
import logging
import os
import pathlib
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
import prometheus_client
import redis
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from portal_ratelimit.limits import Config, FixedWindows

# Envoy waits 100 ms for an answer (gateway/envoy.yaml.in): Redis gets half of that.
REDIS_TIMEOUT_SECONDS = 0.05
LOG_EVERY_SECONDS = 10
STOP_GRACE_SECONDS = 2

DECISIONS = prometheus_client.Counter(
    "portal_ratelimit_decisions",
    "Rate-limit answers per descriptor kind (rule name; 'none' when no rule matched) and result",
    ["descriptor", "result"],
)
REDIS_ERRORS = prometheus_client.Counter(
    "portal_ratelimit_redis_errors", "Requests let through because Redis did not answer (fail-open)"
)

log = logging.getLogger("portal_ratelimit")
Code = rls_pb2.RateLimitResponse.Code


class FailureLog:
    """Says that Redis fails at most once every LOG_EVERY_SECONDS, with how many requests it let
    through since, and once when Redis answers again."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._last_said: float | None = None
        self._unsaid = 0
        self._failing = False

    def failed(self, error: Exception) -> None:
        with self._lock:
            self._failing = True
            self._unsaid += 1
            now = self._clock()
            if self._last_said is not None and now - self._last_said < LOG_EVERY_SECONDS:
                return
            count, self._unsaid, self._last_said = self._unsaid, 0, now
        log.warning(
            "redis unavailable: requests pass without a rate limit",
            extra={"fields": {"error": type(error).__name__, "detail": str(error), "requests_let_through": count}},
        )

    def succeeded(self) -> None:
        if not self._failing:  # read without the lock: the usual case costs nothing
            return
        with self._lock:
            if not self._failing:
                return
            count, self._unsaid, self._failing, self._last_said = self._unsaid, 0, False, None
        log.warning("redis available again: rate limits apply", extra={"fields": {"requests_let_through": count}})


class RateLimitService(rls_pb2_grpc.RateLimitServiceServicer):
    def __init__(self, config: Config, windows: FixedWindows, failures: FailureLog):
        self._config = config
        self._windows = windows
        self._failures = failures

    def ShouldRateLimit(self, request, context):
        descriptors = [[(entry.key, entry.value) for entry in d.entries] for d in request.descriptors]
        rules = [self._config.rule_for(request.domain, descriptor) for descriptor in descriptors]
        for rule in rules:
            if rule is None:
                DECISIONS.labels("none", "ok").inc()
        matched = [(rule, descriptor) for rule, descriptor in zip(rules, descriptors, strict=True) if rule is not None]
        if not matched:
            return rls_pb2.RateLimitResponse(
                overall_code=Code.OK, statuses=[rls_pb2.RateLimitResponse.DescriptorStatus(code=Code.OK)] * len(rules)
            )
        try:
            counts = iter(self._windows.hit(request.domain, matched, request.hits_addend or 1))
        except redis.RedisError as error:
            REDIS_ERRORS.inc()
            self._failures.failed(error)
            for rule, _ in matched:
                DECISIONS.labels(rule.name, "failed_open").inc()
            return rls_pb2.RateLimitResponse(overall_code=Code.OK)
        self._failures.succeeded()
        statuses = []
        over = []
        for rule in rules:
            if rule is None:
                statuses.append(rls_pb2.RateLimitResponse.DescriptorStatus(code=Code.OK))
                continue
            count = next(counts)
            DECISIONS.labels(rule.name, "over_limit" if count.over_limit else "ok").inc()
            if count.over_limit:
                over.append(count)
            statuses.append(
                rls_pb2.RateLimitResponse.DescriptorStatus(
                    code=Code.OVER_LIMIT if count.over_limit else Code.OK,
                    current_limit=rls_pb2.RateLimitResponse.RateLimit(
                        name=rule.name,
                        requests_per_unit=rule.requests_per_minute,
                        unit=rls_pb2.RateLimitResponse.RateLimit.MINUTE,
                    ),
                    limit_remaining=count.remaining,
                    duration_until_reset={"seconds": count.seconds_left},
                )
            )
        if not over:
            return rls_pb2.RateLimitResponse(overall_code=Code.OK, statuses=statuses)
        # Envoy adds these headers to its 429: when the client's window ends.
        retry_after = max(count.seconds_left for count in over)
        return rls_pb2.RateLimitResponse(
            overall_code=Code.OVER_LIMIT,
            statuses=statuses,
            response_headers_to_add=[{"key": "retry-after", "value": str(retry_after)}],
        )


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": "ratelimit",
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    if os.environ.get("PORTAL_LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s %(fields)s"))
        handler.addFilter(lambda record: setattr(record, "fields", getattr(record, "fields", "")) or True)
    else:
        handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def build(config: Config, redis_url: str, address: str) -> tuple[grpc.Server, int, health.HealthServicer]:
    client = redis.Redis.from_url(
        redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=None,  # no retries: an answer is due within Envoy's timeout, and failing open is fine
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rls_pb2_grpc.add_RateLimitServiceServicer_to_server(
        RateLimitService(config, FixedWindows(client), FailureLog()), server
    )
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"cannot listen on {address}")
    return server, port, health_servicer


def main() -> None:
    configure_logging()
    config = Config.load(pathlib.Path(os.environ["RATELIMIT_CONFIG"]))
    redis_url = os.environ["PORTAL_RATE_LIMIT_REDIS_URL"]
    host = os.environ.get("PORTAL_BIND_HOST", "127.0.0.1")
    server, port, health_servicer = build(config, redis_url, f"{host}:{os.environ.get('RATELIMIT_GRPC_PORT', '50056')}")
    metrics_port = int(os.environ.get("RATELIMIT_METRICS_PORT", "9106"))
    if metrics_port:
        prometheus_client.start_http_server(metrics_port, addr=host)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    server.start()
    log.info(
        "ratelimit serving",
        extra={
            "fields": {
                "port": port,
                "metrics_port": metrics_port,
                "domain": config.domain,
                "limits_per_minute": {rule.name: rule.requests_per_minute for rule in config.rules},
            }
        },
    )
    stopping.wait()
    health_servicer.enter_graceful_shutdown()
    server.stop(STOP_GRACE_SECONDS).wait()
