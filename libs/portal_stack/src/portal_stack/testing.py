"""Pytest fixtures shared by every test suite: databases, real servers and the real gateway.

PORTAL_TEST_DATABASE=postgres runs everything on fresh PostgreSQL databases (one per service, as
in production) on the server PORTAL_TEST_POSTGRES_URL names; otherwise on SQLite files.
"""

import asyncio
import contextlib
import json
import os
import pathlib
import random
import socket
import subprocess
import time
import uuid

import grpc
import nats
import pytest
import requests
import sqlalchemy as sa
from google.rpc import error_details_pb2, status_pb2

from portal_common import db
from portal_stack.stack import BIN, PORT_STEP, SERVICES, Stack, StackConfig

POSTGRES_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ON_POSTGRES = os.environ.get("PORTAL_TEST_DATABASE") == "postgres"
# Tests whose outcome does not depend on the database (the gateway, the supervisor, the SDKs, the
# deploy files) run in the SQLite pass only: `pytestmark = sqlite_pass_only`.
sqlite_pass_only = pytest.mark.skipif(ON_POSTGRES, reason="database-independent: runs in the SQLite pass")


# Ports for the tests' servers come from below Linux's ephemeral range (32768-60999), which
# outgoing connections (to PostgreSQL, to Envoy, between services) take theirs from: a port the
# kernel handed out as free could otherwise be some connection's by the time a server binds it.
_TEST_PORTS = range(10000, 32768)


def free_port() -> int:
    while True:
        port = random.choice(_TEST_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def free_ports(count: int, taken: set[int]) -> int:
    """A free port p with p + PORT_STEP * i free too for i < count (the first port of a service
    whose `count` processes the stack puts PORT_STEP apart), none of them in `taken`; adds them."""
    while True:
        port = free_port()
        ports = {port + PORT_STEP * i for i in range(count)}
        if ports & taken:
            continue
        try:
            with contextlib.ExitStack() as held:
                for other in ports - {port}:
                    held.enter_context(socket.socket()).bind(("127.0.0.1", other))
        except OSError:
            continue
        taken |= ports
        return port


class Databases:
    """Creates fresh databases and drops them at the end of the session."""

    def __init__(self, tmp: pathlib.Path):
        self._tmp = tmp
        self._created: list[str] = []
        self._server = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT") if ON_POSTGRES else None

    def new_url(self, service: str) -> str:
        name = f"portal_test_{service}_{uuid.uuid4().hex[:10]}"
        if not self._server:
            return f"sqlite:///{self._tmp / (name + '.db')}"
        with self._server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    @contextlib.contextmanager
    def migrated_engine(self, service: str, migrations: pathlib.Path):
        """An engine on a fresh database of `service`, migrated, disposed of afterwards."""
        engine = db.create_engine(self.new_url(service))
        db.migrate(engine, migrations)
        try:
            yield engine
        finally:
            engine.dispose()

    def drop_all(self) -> None:
        if not self._server:
            return
        with self._server.connect() as connection:
            for name in self._created:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._server.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    dbs = Databases(tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


def start_stack(databases: Databases, data_dir: pathlib.Path, **overrides) -> Stack:
    """A whole portal on free ports with fresh databases; its logs go to data_dir.

    `processes` ({"crm": 2}) runs several processes of a service; the other overrides are
    environment variables of the children. A service process stopping drains for
    PORTAL_DRAIN_SECONDS: 0 unless a test sets it."""
    processes = overrides.pop("processes", {})
    taken: set[int] = set()
    overrides.setdefault("PORTAL_DRAIN_SECONDS", "0")
    config = StackConfig(
        data_dir=data_dir,
        http_port=free_port(),
        admin_port=free_port(),
        listen_address="127.0.0.1",
        api_rate_per_minute=overrides.pop("api_rate_per_minute", 1_000_000),
        auth_rate_per_minute=overrides.pop("auth_rate_per_minute", 1_000_000),
        cors_origins=overrides.pop("cors_origins", ["https://portal.example.com"]),
        service_ports={name: free_ports(processes.get(name, 1), taken) for name in SERVICES},
        metrics_ports={name: free_ports(processes.get(name, 1), taken) for name in SERVICES},
        extra_env={**{f"{name.upper()}_DATABASE_URL": databases.new_url(name) for name in SERVICES}, **overrides},
        processes=processes,
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(config, log_dir=data_dir)
    stack.start()
    return stack


@pytest.fixture(scope="session")
def stack(databases, tmp_path_factory):
    running = start_stack(databases, tmp_path_factory.mktemp("stack"))
    yield running
    running.stop()


class Api:
    """REST calls through the gateway, as a frontend would make them."""

    def __init__(self, base: str, key: str | None, organization_id: str | None = None):
        self.base = base
        self.key = key
        self.organization_id = organization_id  # of the API key, when the test knows it
        self.http = requests.Session()

    def request(self, method: str, path: str, *, key: str | None = "default", **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        key = self.key if key == "default" else key
        if key:
            headers.setdefault("Authorization", f"Bearer {key}")
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


class FromAddress(requests.adapters.HTTPAdapter):
    """Connects from a given local address (127.0.0.x), as a client on another machine would: the
    gateway's rate limits count per client address."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def portal_cli(stack: Stack, *args: str) -> list[dict]:
    """Runs the `portal` admin command against the stack's data; returns its JSON lines."""
    out = subprocess.run(
        [str(BIN / "portal"), *args], env=stack.config.child_env(), check=True, capture_output=True, text=True
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def new_organization(stack: Stack, name: str = "Test Org") -> dict:
    return portal_cli(stack, "org", "create", name)[0]


@pytest.fixture
def org_api(stack) -> Api:
    """The REST API as seen with the API key of a fresh organization."""
    created = new_organization(stack)
    return Api(f"http://127.0.0.1:{stack.config.http_port}", created["apiKey"], created["organizationId"])


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo (AIP-193) that a service attached to a failed call."""
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    status_pb2.Status.FromString(details).details[0].Unpack(info)
    return info


NATS_SERVER = "/usr/sbin/nats-server"


class NatsServer:
    """A real nats-server with JetStream on a free port, its storage in a directory of the test's:
    stop() and start() again restart it on the same storage, as an operator would."""

    def __init__(self, storage: pathlib.Path):
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._storage = storage
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self._storage)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self._jetstream_ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start on port {self.port}")
            time.sleep(0.05)

    def _jetstream_ready(self) -> bool:
        async def ask() -> None:
            client = await nats.connect(self.url, connect_timeout=1, allow_reconnect=False)
            try:
                await client.jetstream().account_info()
            finally:
                await client.close()

        try:
            asyncio.run(asyncio.wait_for(ask(), 2))
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)


@pytest.fixture
def nats_server(tmp_path):
    """A real NATS JetStream server for one test."""
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()
