"""The gRPC service Envoy asks (envoy.service.ratelimit.v3), on a real server and a private Redis."""

import json
import logging

import grpc
import prometheus_client
import pytest
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc

from portal_ratelimit.limits import Config
from portal_ratelimit.server import FailureLog, build

Code = rls_pb2.RateLimitResponse.Code
RULES = {
    "domain": "portal",
    "rules": [
        {
            "name": "credential",
            "requests_per_minute": 2,
            "entries": [{"key": "credential", "value": "well_formed"}, {"key": "authorization"}],
        }
    ],
}


def request(token: str = "Bearer pk_one", domain: str = "portal") -> rls_pb2.RateLimitRequest:
    entries = [("credential", "well_formed"), ("authorization", token)]
    return rls_pb2.RateLimitRequest(
        domain=domain, descriptors=[{"entries": [{"key": key, "value": value} for key, value in entries]}]
    )


def metric(name: str, **labels) -> float:
    return prometheus_client.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def service(redis_server, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULES))
    server, port, _ = build(Config.load(path), redis_server.url, "127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield rls_pb2_grpc.RateLimitServiceStub(channel)
    server.stop(0)


def test_over_the_limit_with_when_to_retry(service):
    over_before = metric("portal_ratelimit_decisions_total", descriptor="credential", result="over_limit")

    answers = [service.ShouldRateLimit(request(), timeout=5) for _ in range(3)]

    assert [a.overall_code for a in answers] == [Code.OK, Code.OK, Code.OVER_LIMIT]
    status = answers[2].statuses[0]
    assert status.current_limit.requests_per_unit == 2 and status.current_limit.name == "credential"
    assert status.limit_remaining == 0
    (header,) = answers[2].response_headers_to_add
    assert header.key == "retry-after" and 0 < int(header.value) <= 60
    assert int(header.value) == status.duration_until_reset.seconds
    assert not answers[0].response_headers_to_add
    assert service.ShouldRateLimit(request("Bearer pk_two"), timeout=5).overall_code == Code.OK
    assert metric("portal_ratelimit_decisions_total", descriptor="credential", result="over_limit") == over_before + 1


def test_descriptors_without_a_rule_are_not_limited(service):
    answers = [service.ShouldRateLimit(request(domain="elsewhere"), timeout=5) for _ in range(3)]

    assert [a.overall_code for a in answers] == [Code.OK] * 3


def test_redis_down_fails_open_counts_and_says_so_once(service, redis_server, caplog):
    caplog.set_level(logging.WARNING, logger="portal_ratelimit")
    errors_before = metric("portal_ratelimit_redis_errors_total")
    redis_server.stop()

    answers = [service.ShouldRateLimit(request(), timeout=5) for _ in range(5)]

    assert [a.overall_code for a in answers] == [Code.OK] * 5
    assert metric("portal_ratelimit_redis_errors_total") == errors_before + 5
    (line,) = caplog.records
    assert line.getMessage() == "redis unavailable: requests pass without a rate limit"
    assert line.fields["requests_let_through"] == 1 and line.fields["error"] == "ConnectionError"


def test_the_failure_log_says_once_per_ten_seconds_how_many_passed_and_when_redis_is_back(caplog):
    caplog.set_level(logging.WARNING, logger="portal_ratelimit")
    now = [0.0]
    failures = FailureLog(clock=lambda: now[0])

    for second in (0, 1, 2, 9.9, 10, 11):
        now[0] = second
        failures.failed(ConnectionError("refused"))
    failures.succeeded()
    failures.succeeded()

    said = [(r.getMessage().split(":")[0], r.fields["requests_let_through"]) for r in caplog.records]
    assert said == [("redis unavailable", 1), ("redis unavailable", 4), ("redis available again", 1)]
