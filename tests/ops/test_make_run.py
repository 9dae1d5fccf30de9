"""`make run`'s supervisor (python -m portal_stack) as a user runs it: it keeps the stack up,
writes its data for its owner only, and stops everything on Ctrl-C."""

import os
import pathlib
import signal
import stat
import subprocess
import sys
import time

import grpc
import pytest
import requests

from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_stack.stack import SERVICES
from portal_stack.testing import free_port, sqlite_pass_only

pytestmark = sqlite_pass_only


@pytest.fixture
def supervisor(databases, tmp_path):
    ports = {name: free_port() for name in SERVICES}
    env = dict(
        os.environ,
        PORTAL_DATA_DIR=str(tmp_path / "var"),
        PORTAL_HTTP_PORT=str(free_port()),
        PORTAL_ADMIN_PORT=str(free_port()),
        PORTAL_DRAIN_SECONDS="0",  # no gateway health checks to wait for when everything stops at once
        **{f"{name.upper()}_GRPC_PORT": str(port) for name, port in ports.items()},
        # Free metrics ports too: the defaults (9101...) may be taken by another stack on the machine.
        **{f"{name.upper()}_METRICS_PORT": str(free_port()) for name in ports},
        **{f"{name.upper()}_DATABASE_URL": databases.new_url(name) for name in SERVICES},
    )
    env.pop("PORTAL_INTERNAL_TOKEN", None)
    log = open(tmp_path / "supervisor.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "portal_stack"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{env['PORTAL_HTTP_PORT']}"

    def serving() -> bool:
        assert process.poll() is None, (tmp_path / "supervisor.log").read_text()[-3000:]
        return _ok(f"{base}/healthz") and b"apiKey" in (tmp_path / "supervisor.log").read_bytes()

    _until(serving, 90)
    yield process, base, tmp_path, ports
    # Ctrl-C, as a user stops it: the supervisor stops its children. (SIGKILL would leave them
    # running, holding their ports, after the test.)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _children(pid: int) -> dict[str, int]:
    """The supervisor's children by what they run: the service's name, or envoy."""
    found = {}
    for child in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            command = pathlib.Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:  # a child that exited (and was reaped) since the listing
            continue
        name = command[2].decode() if command[1:2] == [b"-m"] else "envoy"
        found[name] = int(child)
    return found


def _demo_key(tmp_path) -> str:
    log = (tmp_path / "supervisor.log").read_text()
    return log.split("apiKey:", 1)[1].split()[0]


def test_a_service_that_dies_is_restarted_and_the_api_serves_again(supervisor):
    process, base, tmp_path, _ = supervisor
    headers = {"Authorization": f"Bearer {_demo_key(tmp_path)}"}
    assert requests.get(f"{base}/api/v1/crm/contacts", headers=headers, timeout=5).status_code == 200
    crm = _children(process.pid)["crm"]
    os.kill(crm, signal.SIGKILL)
    _until(lambda: _children(process.pid).get("crm") not in (None, crm), 30)
    _until(lambda: requests.get(f"{base}/api/v1/crm/contacts", headers=headers, timeout=5).status_code == 200, 30)
    _until(lambda: "crm is running again" in (tmp_path / "supervisor.log").read_text(), 10)
    assert "crm exited with status -9; restarting it in 1 s" in (tmp_path / "supervisor.log").read_text()
    assert process.poll() is None


def test_data_is_for_its_owner_only(supervisor):
    process, base, tmp_path, _ = supervisor
    data = tmp_path / "var"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    written = [path for path in data.rglob("*") if path.is_file()]
    assert data / "internal-token" in written and data / "envoy.yaml" in written
    assert {
        path.name: oct(stat.S_IMODE(path.stat().st_mode))
        for path in written
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    } == {}


def test_credentials_are_resolved_only_for_holders_of_the_internal_credential(supervisor):
    process, base, tmp_path, ports = supervisor
    stub = auth_pb2_grpc.CredentialServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports['auth']}"))
    request = auth_pb2.ResolveCredentialRequest(credential_hash="0" * 64)
    with pytest.raises(grpc.RpcError) as refused:
        stub.ResolveCredential(request, timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    token = (tmp_path / "var" / "internal-token").read_text().strip()
    with pytest.raises(grpc.RpcError) as unknown:
        stub.ResolveCredential(request, timeout=5, metadata=(("x-portal-internal-token", token),))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_ctrl_c_stops_everything(supervisor):
    process, base, tmp_path, _ = supervisor
    children = _children(process.pid)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    for pid in children.values():
        assert not pathlib.Path(f"/proc/{pid}").exists()
