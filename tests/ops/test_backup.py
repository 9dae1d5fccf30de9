"""Backups of a running stack restored into a fresh one (docs/operations.md, "Backup and restore"):
`python -m portal_stack.backup create` while the stack serves, `restore` into new databases and a new
data directory, and the fresh stack serves the same data with the same API key. The SQLite online
backup in the SQLite pass, pg_dump / pg_restore in the PostgreSQL pass."""

import http.server
import json
import os
import subprocess
import sys
import threading
import time

import requests

from portal_common import standard_webhooks
from portal_stack.stack import SERVICES, Stack
from portal_stack.testing import ON_POSTGRES, Api, new_organization, start_stack

INVOICE = {
    "type": "b2c_single",
    "issueDate": 1704067200000,
    "dueDate": 1706659200000,
    "currency": "USD",
    "lineItems": [{"description": "Backed-up work", "quantity": 2, "unitPriceInCents": 5000}],
    "billTo": {"name": "Backup Customer", "email": "customer@example.com"},
}


class Receiver:
    """An HTTP server that records the webhooks POSTed to it."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        received = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(
                    (
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(int(self.headers["Content-Length"])),
                    )
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _backup(command: str, directory, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "portal_stack.backup", command, str(directory)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def _ok(response: requests.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_a_backup_of_a_running_stack_restored_into_a_fresh_one_serves_the_same_data(stack, databases, tmp_path):
    created = new_organization(stack, "Backed-up Org")
    api = Api(f"http://127.0.0.1:{stack.config.http_port}", created["apiKey"])
    contact_id = _ok(api.post("/api/v1/crm/contacts", json={"email": "kept@example.com"}), 201)["contactId"]
    project = _ok(api.post("/api/v1/projects", json={"name": "Kept", "subtype": "internal"}), 201)
    invoice = _ok(api.post("/api/v1/invoices", json=INVOICE), 201)
    receiver = Receiver()
    try:
        endpoint = _ok(api.post("/api/v1/webhook-endpoints", json={"url": receiver.url, "enabledEvents": ["*"]}), 201)

        # While the stack runs (and serves).
        manifest = _backup("create", tmp_path / "backup", stack.config.child_env())
        assert manifest["databases"] == {
            name: {
                "format": "pg_dump" if ON_POSTGRES else "sqlite",
                "file": f"{name}.{'dump' if ON_POSTGRES else 'db'}",
            }
            for name in SERVICES
        }
        assert {"secrets-key", "internal-token"} <= set(manifest["dataFiles"])

        urls = {f"{name.upper()}_DATABASE_URL": databases.new_url(name) for name in SERVICES}
        fresh_dir = tmp_path / "restored"
        env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_INTERNAL_TOKEN", "PORTAL_SECRETS_KEY")}
        _backup("restore", tmp_path / "backup", {**env, "PORTAL_DATA_DIR": str(fresh_dir), **urls})
        restored = start_stack(databases, fresh_dir, **urls)
        try:
            _check_restored(restored, created["apiKey"], contact_id, project, invoice, endpoint, receiver)
        finally:
            restored.stop()
    finally:
        receiver.stop()


def _check_restored(stack: Stack, key: str, contact_id, project, invoice, endpoint, receiver) -> None:
    api = Api(f"http://127.0.0.1:{stack.config.http_port}", key)  # the same API key still works
    assert _ok(api.get(f"/api/v1/crm/contacts/{contact_id}"))["email"] == "kept@example.com"
    assert _ok(api.get(f"/api/v1/projects/{project['_id']}")) == project
    assert _ok(api.get(f"/api/v1/invoices/{invoice['_id']}")) == invoice
    pdf = api.get(f"/api/v1/invoices/{invoice['_id']}", headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:200]
    # The counters came along: the next invoice takes the next number.
    after = _ok(api.post("/api/v1/invoices", json=INVOICE), 201)
    assert after["customProperties"]["invoiceNumber"] == "INV-2024-01-002"
    # The signing secret, sealed under the data directory's key, still opens and signs.
    _ok(api.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test"), 202)
    deadline = time.monotonic() + 10
    while not any(b'"webhook_endpoint.test"' in body for _, body in receiver.requests) and time.monotonic() < deadline:
        time.sleep(0.1)
    headers, body = next((h, b) for h, b in receiver.requests if b'"webhook_endpoint.test"' in b)
    expected = standard_webhooks.signature(
        endpoint["secret"], headers["webhook-id"], int(headers["webhook-timestamp"]), body
    )
    assert f"v1,{expected}" in headers["webhook-signature"].split(" ")
