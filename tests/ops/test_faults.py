"""Each service SIGKILLed under a steady write load through Envoy, then started again
(docs/operations.md, "Faults and recovery"). Every write is recorded with its outcome, then checked:

- a write answered 2xx is readable afterwards, and its event reaches the events feed;
- a write with no answer, or a 5xx, exists once or not at all;
- project codes and invoice numbers run 1..n: no gaps, no duplicates.

On SQLite and on PostgreSQL (each pass its own stack)."""

import collections
import dataclasses
import re
import threading
import time
import uuid

import requests

from portal_stack.stack import SERVICES
from portal_stack.testing import new_organization, start_stack

ISSUE_DATE = 1704067200000  # every invoice in one period, so its numbers form one sequence
REQUEST_TIMEOUT = 10  # the gateway answers within 5 s (its route timeout)
PATHS = {"contact": "/api/v1/crm/contacts", "project": "/api/v1/projects", "invoice": "/api/v1/invoices"}


@dataclasses.dataclass
class Write:
    kind: str
    marker: str
    status: int | None = None  # None: no answer (the connection failed or timed out)
    record_id: str | None = None
    code: str | None = None  # the error body's code, for an error


def _body(kind: str, marker: str) -> dict:
    if kind == "contact":
        return {"email": f"{marker}@example.com", "firstName": "Fault"}
    if kind == "project":
        return {"name": f"Fault {marker}", "subtype": "internal"}
    return {
        "type": "b2c_single",
        "issueDate": ISSUE_DATE,
        "dueDate": ISSUE_DATE + 30 * 86_400_000,
        "currency": "USD",
        "lineItems": [{"description": "Work", "quantity": 1, "unitPriceInCents": 1000}],
        "billTo": {"name": f"Fault {marker}", "email": "billing@example.com"},
    }


def _marker_of(kind: str, record: dict) -> str:
    if kind == "contact":
        return record["email"].split("@")[0]
    name = record["name"] if kind == "project" else record["customProperties"]["billTo"]["name"]
    return name.removeprefix("Fault ")


def _id_of(kind: str, body: dict) -> str:
    return body["contactId"] if kind == "contact" else body["_id"]


class WriteLoad:
    """Three threads, each creating contacts, projects and invoices in turn, as fast as they are
    answered (with a short pause): every write with its outcome."""

    def __init__(self, base: str, key: str):
        self._base, self._key = base, key
        self.writes: list[Write] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(offset,)) for offset in range(3)]

    def _run(self, offset: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {self._key}"
        kinds = list(PATHS)
        n = offset
        while not self._stop.is_set():
            write = Write(kinds[n % 3], uuid.uuid4().hex)
            n += 1
            self.writes.append(write)
            try:
                response = http.post(
                    self._base + PATHS[write.kind], json=_body(write.kind, write.marker), timeout=REQUEST_TIMEOUT
                )
            except requests.RequestException:
                continue
            write.status = response.status_code
            if response.status_code in (200, 201):
                write.record_id = _id_of(write.kind, response.json())
            elif response.headers.get("content-type", "").startswith("application/json"):
                write.code = response.json().get("code")
            time.sleep(0.02)

    def __enter__(self) -> "WriteLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def _all(http: requests.Session, base: str, kind: str) -> list[dict]:
    """Every record of `kind` the organization has, page by page."""
    records: list[dict] = []
    while True:
        response = http.get(base + PATHS[kind], params={"limit": 200, "offset": len(records)}, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        page = response.json()[f"{kind}s"]
        records += page
        if len(page) < 200:
            return records


def _until_served(http: requests.Session, base: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    for path in [*PATHS.values(), "/api/v1/events"]:
        while (status := http.get(base + path, params={"limit": 1}, timeout=REQUEST_TIMEOUT).status_code) != 200:
            assert status == 503 and time.monotonic() < deadline, f"{path} answers {status}"
            time.sleep(0.2)


def _sequence(numbers: list[str], pattern: str) -> list[int]:
    return sorted(int(re.fullmatch(pattern, number).group(1)) for number in numbers)  # type: ignore[union-attr]


def _event_object_ids(http: requests.Session, base: str) -> set[str]:
    ids: set[str] = set()
    after = None
    while True:
        params = {"limit": 200, **({"after": after} if after else {})}
        response = http.get(base + "/api/v1/events", params=params, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, response.text
        page = response.json()
        for event in page["events"]:
            obj = event["data"]["object"]
            ids.add(obj.get("id") or obj.get("_id"))
        if not page["hasMore"]:
            return ids
        after = page["events"][-1]["id"]


def test_writes_survive_each_service_killed_under_load(databases, tmp_path):
    stack = start_stack(databases, tmp_path / "stack")
    try:
        created = new_organization(stack)
        base = f"http://127.0.0.1:{stack.config.http_port}"
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {created['apiKey']}"
        outage: dict[str, float] = {}
        with WriteLoad(base, created["apiKey"]) as load:
            time.sleep(0.5)
            for name in SERVICES:
                started = time.monotonic()
                stack.processes[name].kill()  # SIGKILL: no graceful shutdown, in-flight work lost
                stack.processes[name].wait()
                stack.restart(name)
                outage[name] = time.monotonic() - started
                time.sleep(0.2)

        # The gateway sends requests to a restarted service once its health check passes again.
        _until_served(http, base)
        writes = load.writes
        outcomes = collections.Counter("no answer" if w.status is None else w.status for w in writes)
        # Valid writes: anything but success is the outage's: 503 or 504 (the gateway's), or no answer.
        assert all(w.status in (None, 200, 201, 503, 504) for w in writes), outcomes
        assert all(w.code == "UNAVAILABLE" for w in writes if w.status in (503, 504))
        for kind in PATHS:
            records = _all(http, base, kind)
            stored = collections.Counter(_marker_of(kind, record) for record in records)
            ids = {record.get("id") or record.get("_id") for record in records}
            sent = [w for w in writes if w.kind == kind]
            assert set(stored) <= {w.marker for w in sent}
            assert all(count == 1 for count in stored.values()), f"{kind}s stored twice"
            answered = [w for w in sent if w.record_id]
            assert answered, f"no {kind} was created"
            missing = [w for w in answered if w.record_id not in ids or stored[w.marker] != 1]
            assert not missing, f"{len(missing)} acknowledged {kind}s are missing"
            if kind == "project":
                codes = [r["customProperties"]["projectCode"] for r in records]
                assert _sequence(codes, r"PRJ-\d{4}-(\d+)") == list(range(1, len(records) + 1)), codes
            if kind == "invoice":
                numbers = [r["customProperties"]["invoiceNumber"] for r in records]
                assert _sequence(numbers, r"INV-2024-01-(\d+)") == list(range(1, len(records) + 1)), numbers
        for write in (w for w in writes if w.record_id):
            response = http.get(f"{base}{PATHS[write.kind]}/{write.record_id}", timeout=REQUEST_TIMEOUT)
            assert response.status_code == 200 and _marker_of(write.kind, response.json()) == write.marker

        # The acknowledged writes' events reach the feed (relayed from each service's outbox).
        acknowledged = {w.record_id for w in writes if w.record_id}
        deadline = time.monotonic() + 20
        while not acknowledged <= (seen := _event_object_ids(http, base)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert acknowledged <= seen, f"{len(acknowledged - seen)} acknowledged writes have no event"
        print(f"writes: {dict(outcomes)}; kill to ready (s): " + ", ".join(f"{n} {s:.1f}" for n, s in outage.items()))
    finally:
        stack.stop()
