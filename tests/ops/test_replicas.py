"""Several processes per service (docs/operations.md, "Scaling"): how `make run`'s configuration
lays them out, and how one process stops. (The balancing, the concurrency of the write paths and a
rolling restart under load are tested through a whole stack in tests/e2e/test_replicated_writes.py.)"""

import os
import signal
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from portal_stack.stack import StackConfig
from portal_stack.testing import free_port, sqlite_pass_only

pytestmark = sqlite_pass_only


def test_make_run_puts_a_services_processes_100_ports_apart_and_lists_them_all(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CRM_PROCESSES", "3")
    monkeypatch.setenv("CRM_GRPC_PORT", "50052")
    monkeypatch.setenv("CRM_METRICS_PORT", "9102")
    monkeypatch.setenv("AUTH_METRICS_PORT", "0")
    monkeypatch.setenv("PORTAL_INTERNAL_TOKEN", "token")
    config = StackConfig.from_env()

    crm = config.service_processes("crm")
    assert [(p.name, p.grpc_port, p.metrics_port) for p in crm] == [
        ("crm", 50052, 9102),
        ("crm-2", 50152, 9202),
        ("crm-3", 50252, 9302),
    ]
    assert [(p.name, p.metrics_port) for p in config.service_processes("auth")] == [("auth", 0)]
    assert config.upstreams()["crm"] == [("127.0.0.1", 50052), ("127.0.0.1", 50152), ("127.0.0.1", 50252)]
    # The other services' channels balance over every process (round_robin over the addresses).
    env = config.child_env()
    assert env["CRM_GRPC_TARGET"] == "ipv4:127.0.0.1:50052,127.0.0.1:50152,127.0.0.1:50252"
    assert env["AUTH_GRPC_TARGET"] == f"127.0.0.1:{config.service_ports['auth']}"
    # Each process is told its own ports.
    second = config.process_env(crm[1])
    assert (second["CRM_GRPC_PORT"], second["CRM_METRICS_PORT"]) == ("50152", "9202")


def test_a_stopping_process_says_not_serving_while_it_drains_then_exits(databases, tmp_path):
    """SIGTERM: the health service answers NOT_SERVING at once, the server keeps answering calls
    for PORTAL_DRAIN_SECONDS (so that Envoy's health checks take it out first), then the process
    stops and exits 0."""
    port = free_port()
    env = dict(
        os.environ,
        PORTAL_DATA_DIR=str(tmp_path),
        CRM_DATABASE_URL=databases.new_url("crm"),
        CRM_GRPC_PORT=str(port),
        CRM_METRICS_PORT="0",
        PORTAL_INTERNAL_TOKEN="token",
        PORTAL_DRAIN_SECONDS="2",
    )
    log = open(tmp_path / "crm.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "crm"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert _status(health, wait=True) == health_pb2.HealthCheckResponse.SERVING

            process.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            statuses = []
            while process.poll() is None and time.monotonic() - stopped_at < 1.5:
                statuses.append(_status(health))  # answered: the server still takes calls
                time.sleep(0.1)
            # The signal is handled between the interpreter's instructions: a check right after it
            # may still see SERVING; from the first NOT_SERVING on, every check sees NOT_SERVING.
            assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses
            first = statuses.index(health_pb2.HealthCheckResponse.NOT_SERVING)
            assert first <= 2 and set(statuses[first:]) == {health_pb2.HealthCheckResponse.NOT_SERVING}
            assert process.poll() is None, "exited before its drain was over"

            assert process.wait(timeout=30) == 0
            assert time.monotonic() - stopped_at >= 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def _status(health: health_pb2_grpc.HealthStub, wait: bool = False) -> int:
    """The server's overall health status (`wait`: until it listens, at most a minute)."""
    return health.Check(health_pb2.HealthCheckRequest(), timeout=60 if wait else 5, wait_for_ready=wait).status
