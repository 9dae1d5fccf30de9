"""Global rate limits (PORTAL_RATE_LIMIT_REDIS_URL): two Envoys in front of the same services ask the
same rate-limit service (gateway/ratelimit), which counts in a private Redis, so a limit holds
whichever gateway a request reaches; with Redis or the service down, requests pass and say so.

The issue's figure: 100 requests of a key per minute, the 101st refused. Counters live in fixed
one-minute windows, so the tests start their counting where the current minute has time left.
"""

import dataclasses
import json
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from portal_stack.redis_server import RedisServer
from portal_stack.stack import Stack
from portal_stack.testing import Api, FromAddress, free_port, new_organization, sqlite_pass_only, start_stack

pytestmark = sqlite_pass_only

PER_KEY = 100
PER_ADDRESS = 3


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateways(databases, redis_server, tmp_path_factory):
    """A stack with the rate-limit service, and a second Envoy rendered from the same settings on
    ports of its own, routing to the same services and asking the same rate-limit service."""
    metrics_port = free_port()
    first = start_stack(
        databases,
        tmp_path_factory.mktemp("global-limits"),
        api_rate_per_minute=PER_KEY,
        auth_rate_per_minute=PER_ADDRESS,
        PORTAL_RATE_LIMIT_REDIS_URL=redis_server.url,
        RATELIMIT_GRPC_PORT=str(free_port()),
        RATELIMIT_METRICS_PORT=str(metrics_port),
    )
    second_dir = tmp_path_factory.mktemp("second-gateway")
    second = Stack(
        dataclasses.replace(first.config, http_port=free_port(), admin_port=free_port(), data_dir=second_dir),
        log_dir=second_dir,
    )
    try:
        second.restart("envoy")
        yield first, second, metrics_port
    finally:
        second.stop()
        first.stop()


def api(stack: Stack, key: str | None = None, address: str = "127.0.0.1") -> Api:
    client = Api(f"http://127.0.0.1:{stack.config.http_port}", key)
    client.http.mount("http://", FromAddress(address))
    return client


def metric(port: int, name: str, **labels: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def a_fresh_window(needed_seconds: float = 10) -> None:
    """Waits for the next minute if the current one ends within `needed_seconds`."""
    left = 60 - time.time() % 60
    if left < needed_seconds:
        time.sleep(left + 0.1)


def assert_limited(response: requests.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "RATE_LIMITED"
    assert 0 < int(response.headers["Retry-After"]) <= 60, response.headers
    assert "x-envoy-ratelimited" not in response.headers, "the same headers as Envoy's local limits"


def test_requests_without_a_credential_are_counted_per_address_across_gateways(gateways):
    first, second, _ = gateways
    a_fresh_window(5)

    statuses = [api(gateway, address="127.0.0.31").get("/api/v1/auth/user").status_code for gateway in (first, second)]
    statuses.append(api(first, address="127.0.0.31").get("/api/v1/auth/user").status_code)

    assert statuses == [401] * PER_ADDRESS
    assert_limited(api(second, address="127.0.0.31").get("/api/v1/auth/user"))
    assert_limited(api(first, address="127.0.0.31").get("/api/v1/auth/user"))
    assert api(second, address="127.0.0.32").get("/api/v1/auth/user").status_code == 401, "another address"
    assert api(first).get("/healthz").status_code == 200


def test_payment_webhooks_are_counted_under_their_own_rule(gateways):
    first, _, metrics_port = gateways
    before = metric(metrics_port, "portal_ratelimit_decisions_total", descriptor="webhook")

    api(first, address="127.0.0.33").post("/api/v1/webhooks/payments/unknown-token", data="{}")

    assert metric(metrics_port, "portal_ratelimit_decisions_total", descriptor="webhook") == before + 1


def test_the_101st_request_of_a_key_is_refused_whichever_gateway_it_reaches_and_passes_with_redis_down(
    gateways, redis_server
):
    """Last of the module: it stops the private Redis, then the rate-limit service."""
    first, second, metrics_port = gateways
    key, other_key = new_organization(first)["apiKey"], new_organization(first)["apiKey"]
    clients = [api(first, key), api(second, key)]
    a_fresh_window()

    statuses = [clients[n % 2].get("/api/v1/crm/contacts?limit=1").status_code for n in range(PER_KEY)]

    assert statuses == [200] * PER_KEY
    for client in clients:
        assert_limited(client.get("/api/v1/crm/contacts?limit=1"))
    assert api(first, other_key).get("/api/v1/crm/contacts?limit=1").status_code == 200
    assert api(second, other_key).get("/api/v1/crm/contacts?limit=1").status_code == 200

    # Redis down: the rate-limit service lets requests pass, counts them and says so.
    errors_before = metric(metrics_port, "portal_ratelimit_redis_errors_total")
    redis_server.stop()
    assert [client.get("/api/v1/crm/contacts?limit=1").status_code for client in clients] == [200, 200]
    assert metric(metrics_port, "portal_ratelimit_redis_errors_total") == errors_before + 2
    assert metric(metrics_port, "portal_ratelimit_decisions_total", descriptor="credential", result="failed_open") == 2
    log = (first.config.data_dir / "ratelimit.log").read_text()
    (warning,) = [line for line in map(json.loads, log.splitlines()) if line["level"] == "warning"]
    assert warning["message"] == "redis unavailable: requests pass without a rate limit"
    assert warning["requests_let_through"] == 1 and warning["error"] == "ConnectionError"
    assert key not in log

    # The rate-limit service itself down: Envoy lets requests pass and counts them.
    first.processes["ratelimit"].terminate()
    first.processes["ratelimit"].wait(10)
    assert clients[1].get("/api/v1/crm/contacts?limit=1").status_code == 200
    stats = requests.get(f"http://127.0.0.1:{second.config.admin_port}/stats?filter=failure_mode_allowed", timeout=5)
    assert "cluster.crm.ratelimit.global_rate_limit.failure_mode_allowed: 1" in stats.text.splitlines(), stats.text
