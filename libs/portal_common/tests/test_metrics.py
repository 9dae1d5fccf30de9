"""The request metrics' status codes on a real gRPC server, and scrape-time gauges (metrics.watch):
read at most every READING_MAX_AGE_SECONDS whatever the number of scrapes, absent from the scrape
while their reading fails. (The metrics of the real services: tests/ops/test_metrics.py.)"""

import itertools
import time

import grpc
import prometheus_client
import pytest

from portal_common import metrics
from portal_common.server import create_server
from portal_stack.testing import sqlite_pass_only

pytestmark = sqlite_pass_only

_names = itertools.count()


def scraped(name: str) -> float | None:
    return prometheus_client.REGISTRY.get_sample_value(name, {"service": metrics._service})


class Depth:
    """A queue depth whose reading counts its calls and fails on demand, like a query would."""

    def __init__(self) -> None:
        self.reads = 0
        self.failing = False

    def __call__(self) -> float:
        self.reads += 1
        if self.failing:
            raise ConnectionError("the database is down")
        return 40.0 + self.reads


MAX_AGE = 0.5


@pytest.fixture(autouse=True)
def short_max_age(monkeypatch):
    monkeypatch.setattr(metrics, "READING_MAX_AGE_SECONDS", MAX_AGE)


def test_a_reading_serves_the_scrapes_until_it_is_older_than_its_maximum_age():
    name, depth = f"portal_test_depth_{next(_names)}", Depth()
    metrics.watch(name, "a queue's depth", depth)

    assert [scraped(name) for _ in range(5)] == [41.0] * 5
    assert depth.reads == 1
    time.sleep(MAX_AGE)
    assert scraped(name) == 42.0 and depth.reads == 2


def test_a_failing_reading_leaves_its_gauge_out_until_it_reads_again(caplog):
    name, depth = f"portal_test_depth_{next(_names)}", Depth()
    metrics.watch(name, "a queue's depth", depth)
    assert scraped(name) == 41.0

    depth.failing = True
    time.sleep(MAX_AGE)
    assert scraped(name) is None
    assert f"reading {name} failed: the database is down" in caplog.text

    depth.failing = False
    time.sleep(MAX_AGE)
    assert scraped(name) == 43.0


PROBE = "portal.probe.v1.ProbeService"


def probe_server():
    """A real gRPC server built like the services' (create_server: the metrics interceptor in front)
    with one method per outcome."""

    def ok(request, context):
        return b"ok"

    def not_found(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    def crash(request, context):
        raise RuntimeError("a bug")

    behaviors = {"Ok": ok, "NotFound": not_found, "Crash": crash}
    handler = grpc.method_handlers_generic_handler(
        PROBE, {name: grpc.unary_unary_rpc_method_handler(behavior) for name, behavior in behaviors.items()}
    )
    return create_server("127.0.0.1:0", [(lambda _, server: server.add_generic_rpc_handlers((handler,)), None, PROBE)])


def requests_counted(method: str, code: str) -> float:
    labels = {"service": metrics._service, "method": f"{PROBE}/{method}", "code": code}
    return prometheus_client.REGISTRY.get_sample_value("portal_grpc_requests_total", labels) or 0.0


def test_each_call_is_counted_with_the_code_it_ended_with_and_timed():
    server, port = probe_server()
    server.start()
    outcomes = [("Ok", "OK"), ("Ok", "OK"), ("NotFound", "NOT_FOUND"), ("Crash", "UNKNOWN")]
    before = {outcome: requests_counted(*outcome) for outcome in set(outcomes)}
    timed_before = prometheus_client.REGISTRY.get_sample_value(
        "portal_grpc_request_duration_seconds_count", {"service": metrics._service, "method": f"{PROBE}/Ok"}
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            for method, code in outcomes:
                call = channel.unary_unary(f"/{PROBE}/{method}")
                try:
                    call(b"", timeout=5)
                except grpc.RpcError as error:
                    assert error.code().name == code
    finally:
        server.stop(None)
    assert {outcome: requests_counted(*outcome) - before[outcome] for outcome in before} == {
        ("Ok", "OK"): 2,
        ("NotFound", "NOT_FOUND"): 1,
        ("Crash", "UNKNOWN"): 1,
    }
    timed = prometheus_client.REGISTRY.get_sample_value(
        "portal_grpc_request_duration_seconds_count", {"service": metrics._service, "method": f"{PROBE}/Ok"}
    )
    assert timed - (timed_before or 0) == 2
