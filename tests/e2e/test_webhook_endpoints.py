"""Webhook endpoints through the real gateway, delivering to a real HTTP receiver in the test that
verifies every request with the `standardwebhooks` package, unchanged, and records it.

The module runs its own stack with PORTAL_RETRY_SCALE=0.001 (the retry schedule a thousand times
shorter: 5 ms, 300 ms, 1.8 s, 7.2 s, ...). Events come from real API writes (the producing
services' outboxes) and from the events service's internal AppendEvents, as a relay sends them.
"""

import http.server
import json
import threading
import time
from typing import Callable

import grpc
import pytest
from crm_rest import create_contact, get_contact
from projects_rest import create_project, crm_organization, get_project, portal_user
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from portal.events.v1 import events_pb2, events_pb2_grpc
from portal_common.auth import INTERNAL_TOKEN_HEADER
from portal_common.ids import new_id
from portal_stack.testing import Api, NatsServer, free_port, new_organization, sqlite_pass_only, start_stack

ENDPOINTS = "/api/v1/webhook-endpoints"
DEADLINE_SECONDS = 60


@pytest.fixture(scope="module")
def hooks_stack(databases, tmp_path_factory):
    running = start_stack(databases, tmp_path_factory.mktemp("webhooks"), PORTAL_RETRY_SCALE="0.001")
    yield running
    running.stop()


def api_of(stack, name: str = "Hooks Org") -> Api:
    created = new_organization(stack, name)
    return Api(f"http://127.0.0.1:{stack.config.http_port}", created["apiKey"], created["organizationId"])


@pytest.fixture
def api(hooks_stack) -> Api:
    return api_of(hooks_stack)


class Receiver:
    """An HTTP server on a free local port that records what it is sent. `answer(path)` gives the
    status of each reply (200 by default); `stop()` and `start()` take it off and back on its port."""

    def __init__(self):
        self.port = free_port()
        self.received: list[dict] = []
        self.answer: Callable[[str], int] = lambda path: 200
        self.retry_after: str | None = None
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                status = receiver.answer(self.path)
                with receiver._lock:
                    receiver.received.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body, "status": status}
                    )
                self.send_response(status)
                if receiver.retry_after and status >= 300:
                    self.send_header("retry-after", receiver.retry_after)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of(self, name: str, delivered_only: bool = True) -> list[dict]:
        with self._lock:
            return [
                request
                for request in self.received
                if request["path"] == f"/hooks/{name}" and (not delivered_only or request["status"] < 300)
            ]


@pytest.fixture
def receiver():
    running = Receiver()
    running.start()
    yield running
    running.stop()


def wait_for(condition: Callable[[], object], what: str, seconds: float = DEADLINE_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def verified(request: dict, secret: str) -> dict:
    """The event a request carries, verified as a receiver using standardwebhooks does."""
    return Webhook(secret).verify(request["body"], request["headers"])


def create_endpoint(api: Api, url: str, events=("*",), **fields) -> dict:
    response = api.post(ENDPOINTS, json={"url": url, "enabledEvents": list(events), **fields})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def producer(hooks_stack):
    """Appends events as the producing services' relays do (the internal credential)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{hooks_stack.config.service_ports['events']}")
    stub = events_pb2_grpc.EventsInternalServiceStub(channel)
    token = hooks_stack.config.internal_token()

    def append(api: Api, type_: str, obj: dict) -> dict:
        created_at = int(time.time() * 1000)
        document = {"id": new_id("evt"), "type": type_, "createdAt": created_at, "data": {"object": obj}}
        envelope = events_pb2.EventEnvelope(
            id=document["id"],
            organization_id=api.organization_id,
            type=type_,
            created_at=created_at,
            payload=json.dumps(document, separators=(",", ":")),
        )
        request = events_pb2.AppendEventsRequest(events=[envelope])
        stub.AppendEvents(request, metadata=[(INTERNAL_TOKEN_HEADER, token)], timeout=10)
        return document

    yield append
    channel.close()


def deliveries(api: Api, endpoint_id: str, **params) -> list[dict]:
    response = api.get(f"{ENDPOINTS}/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]


# Endpoints


def test_an_endpoint_shows_its_secret_once_and_is_managed_like_any_resource(api, hooks_stack):
    created = create_endpoint(api, "https://hooks.example.com/portal", ["invoice.paid"], description="Books")
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "enabled" and created["enabledEvents"] == ["invoice.paid"]
    assert created["description"] == "Books" and created["id"].startswith("we_")
    endpoint_id = created["id"]

    listed = api.get(ENDPOINTS).json()
    assert [endpoint["id"] for endpoint in listed["endpoints"]] == [endpoint_id] and listed["total"] == 1
    fetched = api.get(f"{ENDPOINTS}/{endpoint_id}").json()
    assert "secret" not in fetched and "secret" not in listed["endpoints"][0]
    assert created["secret"] not in json.dumps(listed) + json.dumps(fetched)

    changed = api.patch(
        f"{ENDPOINTS}/{endpoint_id}", json={"enabledEvents": ["invoice.paid", "contact.created"], "description": ""}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabledEvents"] == ["invoice.paid", "contact.created"]
    assert "description" not in changed.json() and changed.json()["url"] == "https://hooks.example.com/portal"
    disabled = api.patch(f"{ENDPOINTS}/{endpoint_id}", json={"status": "disabled"}).json()
    assert disabled["status"] == "disabled" and disabled["disabledReason"] == "requested"
    enabled = api.patch(f"{ENDPOINTS}/{endpoint_id}", json={"status": "enabled"}).json()
    assert enabled["status"] == "enabled" and "disabledReason" not in enabled

    rotated = api.post(f"{ENDPOINTS}/{endpoint_id}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previousSecretExpiresAt"] > time.time() * 1000 + 23 * 3600_000

    assert api.delete(f"{ENDPOINTS}/{endpoint_id}").status_code == 200
    assert api.get(f"{ENDPOINTS}/{endpoint_id}").status_code == 404
    assert api.get(ENDPOINTS).json()["total"] == 0


def test_a_create_retried_with_its_idempotency_key_makes_one_endpoint(api):
    body = {"url": "https://hooks.example.com/once", "enabledEvents": ["*"]}
    headers = {"Idempotency-Key": "create-hook-1"}
    first = api.post(ENDPOINTS, json=body, headers=headers)
    again = api.post(ENDPOINTS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()  # the same secret: the answer was stored (sealed)
    assert api.get(ENDPOINTS).json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://hooks.example.com/x", "enabledEvents": ["*"], "secret": "whsec_mine"}, "secret"),
        (
            {"url": "https://hooks.example.com/x", "enabledEvents": ["invoice.paid", "invoice.payed"]},
            "enabledEvents[1]",
        ),
        ({"url": "https://hooks.example.com/x", "enabledEvents": []}, "enabledEvents"),
        ({"url": "https://hooks.example.com/x", "enabledEvents": ["*", "invoice.paid"]}, "enabledEvents"),
        ({"enabledEvents": ["*"]}, "url"),
        ({"url": "hooks.example.com/x", "enabledEvents": ["*"]}, "url"),
        ({"url": "ftp://hooks.example.com/x", "enabledEvents": ["*"]}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x", "enabledEvents": ["*"]}, "url"),
        ({"url": "https://hooks.example.com/x", "enabledEvents": "*"}, "enabledEvents"),
    ],
)
def test_bad_endpoints_are_refused_naming_the_field(api, body, field):
    response = api.post(ENDPOINTS, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_other_organizations_and_portal_users_never_reach_an_endpoint(api, hooks_stack, receiver, producer):
    other = api_of(hooks_stack, "Other Org")
    mine = create_endpoint(api, receiver.url("mine"))
    theirs = create_endpoint(other, receiver.url("theirs"))
    for method, path in (
        ("GET", f"{ENDPOINTS}/{mine['id']}"),
        ("PATCH", f"{ENDPOINTS}/{mine['id']}"),
        ("DELETE", f"{ENDPOINTS}/{mine['id']}"),
        ("POST", f"{ENDPOINTS}/{mine['id']}/test"),
        ("POST", f"{ENDPOINTS}/{mine['id']}/rotate-secret"),
        ("GET", f"{ENDPOINTS}/{mine['id']}/deliveries"),
    ):
        response = other.request(method, path, json={} if method in ("POST", "PATCH") else None)
        assert response.status_code == 404, (method, path, response.text)
    assert [endpoint["id"] for endpoint in other.get(ENDPOINTS).json()["endpoints"]] == [theirs["id"]]

    event = producer(other, "contact.created", {"_id": "ct_theirs"})
    wait_for(lambda: receiver.of("theirs"), "the other organization's event")
    assert verified(receiver.of("theirs")[0], theirs["secret"])["id"] == event["id"]
    assert receiver.of("mine") == [] and deliveries(api, mine["id"]) == []

    session = portal_user(api, crm_organization(api))
    assert session.get(ENDPOINTS).status_code == 403


# Deliveries


def test_events_of_real_writes_arrive_signed_with_the_objects_the_api_returns(api, receiver):
    endpoint = create_endpoint(api, receiver.url("writes"), ["contact.created", "project.created"])
    contact_id = create_contact(api, subtype="lead", firstName="Ada")
    project = create_project(api)

    arrived = wait_for(lambda: len(receiver.of("writes")) >= 2 and receiver.of("writes"), "both events")
    events = {event["type"]: event for event in (verified(request, endpoint["secret"]) for request in arrived)}
    assert events["contact.created"]["data"]["object"] == get_contact(api, contact_id)
    assert events["project.created"]["data"]["object"] == get_project(api, project["_id"])
    for request in arrived:
        document = json.loads(request["body"])
        assert request["headers"]["webhook-id"] == document["id"]
        assert request["headers"]["content-type"] == "application/json"
    # Exactly what the change feed holds.
    feed = api.get("/api/v1/events", params={"types": "contact.created,project.created"}).json()["events"]
    assert {event["id"]: event for event in feed} == {event["id"]: event for event in events.values()}
    listed = deliveries(api, endpoint["id"])
    assert {delivery["status"] for delivery in listed} == {"delivered"}
    assert all(delivery["attempts"][0]["httpStatus"] == 200 for delivery in listed)
    assert listed[0]["attempts"][0]["responseBody"] == "ok"


def test_a_receiver_down_for_a_while_gets_every_event_once_back(api, receiver, producer):
    endpoint = create_endpoint(api, receiver.url("down"))
    receiver.answer = lambda path: 503
    sent = [producer(api, "contact.updated", {"_id": f"ct_{n}"}) for n in range(5)]
    wait_for(lambda: len(receiver.of("down", delivered_only=False)) >= 10, "failed attempts (503)")
    receiver.stop()  # now refusing connections
    wait_for(
        lambda: any(
            attempt.get("error") for delivery in deliveries(api, endpoint["id"]) for attempt in delivery["attempts"]
        ),
        "an attempt refused a connection",
    )
    receiver.answer = lambda path: 200
    receiver.start()

    wait_for(lambda: len({r["headers"]["webhook-id"] for r in receiver.of("down")}) == 5, "all five events")
    assert {verified(r, endpoint["secret"])["id"] for r in receiver.of("down")} == {event["id"] for event in sent}
    listed = deliveries(api, endpoint["id"])
    assert {delivery["status"] for delivery in listed} == {"delivered"}
    statuses = {attempt.get("httpStatus") for delivery in listed for attempt in delivery["attempts"]}
    assert {503, 200} <= statuses
    assert api.get(f"{ENDPOINTS}/{endpoint['id']}").json().get("failingSince") is None


def test_retry_after_is_honoured(api, receiver, producer):
    endpoint = create_endpoint(api, receiver.url("later"))
    receiver.answer = lambda path: 429
    receiver.retry_after = "3600"  # an hour, times the stack's retry scale: 3.6 s
    producer(api, "contact.updated", {"_id": "ct_later"})
    pending = wait_for(
        lambda: [d for d in deliveries(api, endpoint["id"]) if d["attempts"] and d.get("nextAttemptAt")],
        "a refused attempt",
    )[0]
    assert pending["nextAttemptAt"] - pending["attempts"][0]["attemptedAt"] >= 3600
    assert pending["status"] == "pending"


def test_410_gone_disables_the_endpoint_and_records_an_event(api, receiver, producer):
    gone = create_endpoint(api, receiver.url("gone"), ["contact.updated"])
    watcher = create_endpoint(api, receiver.url("watcher"), ["webhook_endpoint.disabled"])
    receiver.answer = lambda path: 410 if path.endswith("/gone") else 200
    producer(api, "contact.updated", {"_id": "ct_1"})

    event = verified(wait_for(lambda: receiver.of("watcher"), "the disabled event")[0], watcher["secret"])
    assert event["type"] == "webhook_endpoint.disabled"
    assert event["data"]["object"]["id"] == gone["id"] and "secret" not in event["data"]["object"]
    endpoint = api.get(f"{ENDPOINTS}/{gone['id']}").json()
    assert endpoint["status"] == "disabled" and endpoint["disabledReason"] == "gone"
    assert event["data"]["object"]["status"] == "disabled"
    feed = api.get("/api/v1/events", params={"types": "webhook_endpoint.disabled"}).json()["events"]
    assert [found["id"] for found in feed] == [event["id"]]
    # A disabled endpoint gets nothing more, and cannot be sent a test.
    producer(api, "contact.updated", {"_id": "ct_2"})
    assert api.post(f"{ENDPOINTS}/{gone['id']}/test").status_code == 409
    assert len(deliveries(api, gone["id"])) == 1


def test_rotation_signs_with_both_secrets_for_a_day(api, receiver):
    endpoint = create_endpoint(api, receiver.url("rotated"))
    rotated = api.post(f"{ENDPOINTS}/{endpoint['id']}/rotate-secret", json={}).json()
    test = api.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    assert test.status_code == 202, test.text
    request = wait_for(lambda: receiver.of("rotated"), "the test event")[0]
    signatures = request["headers"]["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(signature.startswith("v1,") for signature in signatures)
    assert verified(request, endpoint["secret"]) == verified(request, rotated["secret"])
    with pytest.raises(WebhookVerificationError):
        verified(request, "whsec_" + "A" * 43 + "=")


def test_the_test_event_goes_to_its_endpoint_alone(api, receiver):
    endpoint = create_endpoint(api, receiver.url("tested"), ["invoice.paid"])
    bystander = create_endpoint(api, receiver.url("bystander"))
    answer = api.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    assert answer.status_code == 202 and answer.json()["eventType"] == "webhook_endpoint.test"
    event = verified(wait_for(lambda: receiver.of("tested"), "the test event")[0], endpoint["secret"])
    assert event["type"] == "webhook_endpoint.test" and event["id"] == answer.json()["eventId"]
    assert event["data"]["object"] == api.get(f"{ENDPOINTS}/{endpoint['id']}").json()
    assert deliveries(api, bystander["id"]) == []
    assert api.post(f"{ENDPOINTS}/{endpoint['id']}/test", json={"type": "x"}).json()["field"] == "type"


def test_recover_and_retry_send_events_again_with_the_same_webhook_id(api, receiver, producer):
    started = int(time.time() * 1000)
    endpoint = create_endpoint(api, receiver.url("again"), ["contact.created"])
    sent = [producer(api, "contact.created", {"_id": f"ct_{n}"}) for n in range(3)]
    producer(api, "project.created", {"_id": "pj_1"})  # not subscribed: not recovered
    wait_for(lambda: len(receiver.of("again")) == 3, "three events")

    recovered = api.post(f"{ENDPOINTS}/{endpoint['id']}/recover", json={"since": started})
    assert recovered.status_code == 200, recovered.text
    assert recovered.json() == {"queued": 3, "hasMore": False}
    wait_for(lambda: len(receiver.of("again")) == 6, "the three again")
    ids = [request["headers"]["webhook-id"] for request in receiver.of("again")]
    assert sorted(ids) == sorted(2 * [event["id"] for event in sent])

    delivery = deliveries(api, endpoint["id"])[0]
    retried = api.post(f"{ENDPOINTS}/{endpoint['id']}/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    wait_for(lambda: len(receiver.of("again")) == 7, "the retried one")
    assert receiver.of("again")[-1]["headers"]["webhook-id"] == delivery["eventId"]

    assert api.post(f"{ENDPOINTS}/{endpoint['id']}/recover", json={}).json()["field"] == "since"
    assert api.post(f"{ENDPOINTS}/{endpoint['id']}/recover", json={"since": "yesterday"}).json()["field"] == "since"
    missing = api.post(f"{ENDPOINTS}/{endpoint['id']}/deliveries/whd_nope/retry")
    assert missing.status_code == 404


# Where webhooks may go


@pytest.fixture(scope="module")
def strict_stack(databases, tmp_path_factory):
    running = start_stack(databases, tmp_path_factory.mktemp("strict"), PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS="false")
    yield running
    running.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://localhost:8443/x",
        "https://10.1.2.3/x",
        "https://192.168.0.10/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[fd00::1]/x",
        "https://0.0.0.0/x",
    ],
)
def test_http_and_private_addresses_are_refused_unless_allowed(strict_stack, url):
    api = api_of(strict_stack, "Strict Org")
    response = api.post(ENDPOINTS, json={"url": url, "enabledEvents": ["*"]})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "url"


@pytest.mark.parametrize("killed", ["events", "crm"])
def test_nothing_is_lost_when_a_service_is_killed_mid_stream(hooks_stack, api, receiver, killed):
    """A steady stream of real writes; the events service (store and deliveries) or, separately, the
    CRM (which makes the changes and relays their events) is SIGKILLed and restarted meanwhile.
    Every committed contact's event reaches the feed and the receiver (repeats allowed, each with its
    same webhook-id)."""
    endpoint = create_endpoint(api, receiver.url("killed"), ["contact.created"])
    written: list[str] = []
    stop = threading.Event()

    def write():
        number = 0
        while not stop.is_set():
            number += 1
            response = api.post("/api/v1/crm/contacts", json={"email": f"{killed}.{number}@example.com"})
            if response.status_code == 201:
                written.append(response.json()["contactId"])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(lambda: len(receiver.of("killed")) >= 5, "deliveries flowing")
        hooks_stack.processes[killed].kill()
        hooks_stack.processes[killed].wait()
        time.sleep(0.5)  # writes go on while it is down: they wait in the CRM's outbox, or fail
        before = len(receiver.of("killed"))
        hooks_stack.restart(killed)
        wait_for(lambda: len(receiver.of("killed")) >= before + 5, "deliveries after the restart")
    finally:
        stop.set()
        writer.join()

    def delivered_contacts() -> set[str]:
        return {verified(request, endpoint["secret"])["data"]["object"]["id"] for request in receiver.of("killed")}

    wait_for(lambda: set(written) <= delivered_contacts(), f"all {len(written)} contacts delivered")
    by_id: dict[str, set] = {}
    for request in receiver.of("killed"):
        by_id.setdefault(request["headers"]["webhook-id"], set()).add(request["body"])
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a repeat is the same event
    feed, after = [], ""
    while True:
        page = api.get("/api/v1/events", params={"types": "contact.created", "limit": 200, "after": after}).json()
        feed += page["events"]
        if not page["hasMore"]:
            break
        after = page["events"][-1]["id"]
    assert {event["id"] for event in feed} == set(by_id)
    # A write cut off by the kill may have committed without an answer: its event is there too, and
    # its contact exists. None is missing, and none is of a change that was not made.
    contacts = {event["data"]["object"]["id"] for event in feed}
    assert set(written) <= contacts
    for contact_id in contacts - set(written):
        assert api.get(f"/api/v1/crm/contacts/{contact_id}").status_code == 200


# The NATS transport does not depend on the database: the gRPC relay's tests cover the store on both.
@sqlite_pass_only
def test_with_nats_the_events_of_real_writes_are_delivered(databases, tmp_path_factory, receiver):
    """Through NATS JetStream (PORTAL_EVENT_BUS_URL): the CRM's relay publishes, the events service
    consumes, stores and queues the delivery in one transaction, and the receiver gets it signed."""
    server = NatsServer(tmp_path_factory.mktemp("webhooks-jetstream"))
    server.start()
    running = start_stack(
        databases, tmp_path_factory.mktemp("webhooks-nats"), PORTAL_EVENT_BUS_URL=server.url, PORTAL_RETRY_SCALE="0.001"
    )
    try:
        api = api_of(running, "Bus Org")
        endpoint = create_endpoint(api, receiver.url("bus"), ["contact.created"])
        contacts = {create_contact(api) for _ in range(3)}
        arrived = wait_for(lambda: len(receiver.of("bus")) >= 3 and receiver.of("bus"), "three deliveries via NATS")
        assert {verified(request, endpoint["secret"])["data"]["object"]["id"] for request in arrived} == contacts
    finally:
        running.stop()
        server.stop()
