"""A PostgreSQL server restarted under load (docs/operations.md, "Faults and recovery"): the services
recover without being restarted, within seconds; meanwhile requests are answered 503 UNAVAILABLE,
never left hanging; the services' logs and metrics say so.

The server is a private cluster of the test's own (initdb, pg_ctl): the machine's is never touched.
It runs once, in the SQLite pass (it brings its own server)."""

import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest
import requests

from portal_stack.stack import SERVICES
from portal_stack.testing import ON_POSTGRES, free_port, new_organization, start_stack

PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")
RECOVERY_SECONDS = 5  # requests succeed again within this long after the server accepts connections
REQUEST_TIMEOUT = 10  # the gateway's route timeout is 5 s: no answer within 10 s is a hang

pytestmark = [
    pytest.mark.skipif(ON_POSTGRES, reason="brings its own PostgreSQL server: runs in the SQLite pass"),
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="needs PostgreSQL 15's server binaries"),
]


class PrivatePostgres:
    """A PostgreSQL cluster in a directory of its own on a free port, trust authentication. PostgreSQL
    refuses to run as root, so as root it runs as the system's postgres user."""

    def __init__(self) -> None:
        self.port = free_port()
        self._dir = pathlib.Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self._dir, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self._dir / "data"

    def _run(self, *command: str) -> None:
        # Output to a file, not a pipe: the server that pg_ctl starts keeps its output open, and
        # reading a pipe until it closes would wait for the server to end.
        with open(self._dir / "commands.log", "ab") as output:
            subprocess.run([*self._as_user, *command], check=True, stdout=output, stderr=output, cwd=self._dir)

    def start(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.pg_ctl("start", "-l", str(self._dir / "server.log"))

    def pg_ctl(self, action: str, *args: str) -> None:
        # fsync off: a throwaway cluster, whose shutdown checkpoint would otherwise take seconds
        # on a busy machine and lengthen the outage the test measures.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._dir} -c max_connections=200 -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), action, "-D", str(self.data), "-w", "-o", options, *args)

    def restart(self) -> None:
        """Stops the server as an operator's restart does (fast: active transactions are rolled
        back, connections closed), and starts it again; returns once it accepts connections."""
        self.pg_ctl("restart", "-m", "fast", "-l", str(self._dir / "server.log"))

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qc",
                  f'CREATE DATABASE "{name}"')  # fmt: skip
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    server.start()
    yield server
    server.stop()


class Load:
    """Reads and writes (contacts, projects) from two threads; each answer with the time it came."""

    def __init__(self, base: str, key: str, contact_id: str):
        self._base, self._key, self._contact_id = base, key, contact_id
        self.answers: list[tuple[float, float, int, dict | None]] = []  # sent, answered, status, body
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(write,)) for write in (False, True)]

    def _run(self, write: bool) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {self._key}"
        n = 0
        while not self._stop.is_set():
            n += 1
            sent = time.monotonic()
            if not write:
                path = f"/api/v1/crm/contacts/{self._contact_id}" if n % 2 else "/api/v1/projects"
                response = http.get(self._base + path, timeout=REQUEST_TIMEOUT)
            elif n % 2:
                email = f"restart.{threading.get_ident()}.{n}.{time.time_ns()}@example.com"
                response = http.post(
                    self._base + "/api/v1/crm/contacts", json={"email": email}, timeout=REQUEST_TIMEOUT
                )
            else:
                project = {"name": f"Restart {n}", "subtype": "internal"}
                response = http.post(self._base + "/api/v1/projects", json=project, timeout=REQUEST_TIMEOUT)
            try:
                body = response.json()
            except ValueError:
                body = None
            self.answers.append((sent, time.monotonic(), response.status_code, body))
            time.sleep(0.01)

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def succeeding_since(self, since: float) -> bool:
        """Whether requests have succeeded for a second and a half, since `since` or their last failure."""
        answers = list(self.answers)
        since = max([since, *(a[1] for a in answers if a[2] >= 300)])
        recent = [a for a in answers if a[0] > since]
        return bool(recent) and recent[-1][0] - recent[0][0] > 1.5


def _counter(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def test_services_recover_from_a_postgres_restart_by_themselves(databases, private_postgres, tmp_path):
    urls = {f"{name.upper()}_DATABASE_URL": private_postgres.create_database(name) for name in SERVICES}
    stack = start_stack(databases, tmp_path / "stack", **urls)
    try:
        pids = {name: process.pid for name, process in stack.processes.items()}
        created = new_organization(stack)
        base = f"http://127.0.0.1:{stack.config.http_port}"
        contact = requests.post(
            base + "/api/v1/crm/contacts",
            json={"email": "restart@example.com"},
            headers={"Authorization": f"Bearer {created['apiKey']}"},
            timeout=REQUEST_TIMEOUT,
        )
        assert contact.status_code == 201, contact.text

        with Load(base, created["apiKey"], contact.json()["contactId"]) as load:
            time.sleep(1)
            down = time.monotonic()
            private_postgres.restart()
            up = time.monotonic()  # pg_ctl -w returns once the server accepts connections
            deadline = up + RECOVERY_SECONDS
            while not load.succeeding_since(up) and time.monotonic() < deadline + 2:
                time.sleep(0.1)
            last_failure = max((a[1] for a in load.answers if a[2] >= 300), default=None)

        before = [a for a in load.answers if a[1] < down]
        assert before and all(a[2] < 300 for a in before), "requests failed before the restart"
        failures = [a for a in load.answers if a[2] >= 300]
        # Failures only while the server was away (and its connections were being replaced), each
        # a 503 with the JSON error body; never a hang.
        assert all(a[2] == 503 and a[3] and a[3].get("code") == "UNAVAILABLE" for a in failures), failures
        assert all(a[1] - a[0] < REQUEST_TIMEOUT for a in load.answers)
        assert last_failure is None or last_failure < deadline, f"failures {last_failure - up:.1f} s after the restart"
        after = [a for a in load.answers if a[0] > (last_failure or up)]
        assert len(after) > 20 and all(a[2] < 300 for a in after)
        # Recovered by themselves: no service was restarted.
        assert {name: process.pid for name, process in stack.processes.items()} == pids
        assert stack.exited() is None

        for service in ("crm", "projects"):
            log = (tmp_path / "stack" / f"{service}.log").read_text()
            lost = log.find("lost the connection to the database")
            assert lost >= 0, f"{service} logged no lost connection"
            assert log.find("connected to the database", lost) > lost, f"{service} logged no recovery"
            errors = _counter(stack.config.metrics_ports[service], "portal_db_connection_errors_total")
            assert errors >= 1, f"{service}'s portal_db_connection_errors_total is {errors}"
        print(f"outage {up - down:.2f} s, {len(failures)} requests answered 503 of {len(load.answers)}")
    finally:
        stack.stop()
