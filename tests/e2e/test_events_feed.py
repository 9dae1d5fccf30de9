"""The change feed GET /api/v1/events through the real gateway: events appended as a producer's
relay appends them (the internal AppendEvents, with the internal credential), then read back."""

import json
import re
import signal
import threading
import time

import grpc
import pytest
from crm_rest import api_for, assert_error
from projects_rest import portal_user

from portal.events.v1 import events_pb2, events_pb2_grpc
from portal_common.auth import INTERNAL_TOKEN_HEADER
from portal_common.ids import new_id
from portal_stack.testing import Api, NatsServer, new_organization, sqlite_pass_only, start_stack

EVENTS = "/api/v1/events"


@pytest.fixture(scope="module")
def producer(stack):
    """Appends events as the producing services' relays do."""
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.config.service_ports['events']}")
    stub = events_pb2_grpc.EventsInternalServiceStub(channel)
    token = stack.config.internal_token()

    def append(*envelopes: events_pb2.EventEnvelope) -> int:
        request = events_pb2.AppendEventsRequest(events=envelopes)
        return stub.AppendEvents(request, metadata=[(INTERNAL_TOKEN_HEADER, token)], timeout=10).stored

    append.stub = stub
    yield append
    channel.close()


def event(api: Api, type_: str, obj: dict, extra: dict | None = None) -> events_pb2.EventEnvelope:
    """An event of the organization of `api`, as a producer makes it."""
    created_at = int(time.time() * 1000)
    document = {"id": new_id("evt"), "type": type_, "createdAt": created_at, "data": {"object": obj, **(extra or {})}}
    return events_pb2.EventEnvelope(
        id=document["id"],
        organization_id=api.organization_id,
        type=type_,
        created_at=created_at,
        payload=json.dumps(document, separators=(",", ":")),
    )


def document(envelope: events_pb2.EventEnvelope) -> dict:
    return json.loads(envelope.payload)


def feed(api: Api, **params) -> dict:
    response = api.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def everything_after(api: Api, after: str = "", **params) -> list[dict]:
    """Every event after `after`, page by page, as a client catching up does."""
    seen: list[dict] = []
    while True:
        page = feed(api, **({"after": after} if after else {}), **params)
        seen += page["events"]
        if not page["hasMore"]:
            return seen
        after = page["events"][-1]["id"]


def contact(number: int) -> dict:
    return {"_id": f"ct_{number}", "email": f"c{number}@example.com", "tags": ["a"], "total": 1500, "rate": 0.5}


def test_pages_oldest_first_each_event_exactly_as_produced(org_api, other_api, producer):
    mine = [event(org_api, "contact.created", contact(n)) for n in range(5)]
    theirs = event(other_api, "contact.created", contact(99))
    assert producer(mine[0], theirs, *mine[1:3]) == 4
    assert producer(*mine[3:]) == 2

    first = feed(org_api, limit=2)
    assert first == {"events": [document(e) for e in mine[:2]], "hasMore": True}
    second = feed(org_api, limit=2, after=mine[1].id)
    assert second == {"events": [document(e) for e in mine[2:4]], "hasMore": True}
    last = feed(org_api, limit=2, after=mine[3].id)
    assert last == {"events": [document(mine[4])], "hasMore": False}
    assert feed(org_api, after=mine[4].id) == {"events": [], "hasMore": False}
    assert feed(org_api)["events"] == [document(e) for e in mine]  # 50 by default
    # Whole numbers stay whole on the wire: 1500, not 1500.0.
    text = org_api.get(EVENTS, params={"limit": 1}).text.replace(" ", "")
    assert re.search(r'"total":1500[,}]', text) and re.search(r'"createdAt":\d+[,}]', text), text
    assert feed(other_api)["events"] == [document(theirs)]


def test_an_event_sent_again_is_stored_once(org_api, producer):
    once = event(org_api, "invoice.paid", {"_id": "inv_1", "status": "paid"})
    assert producer(once) == 1
    assert producer(once, once) == 0
    assert [e["id"] for e in feed(org_api)["events"]] == [once.id]


def test_types_filter_comma_separated(org_api, producer):
    kinds = ["contact.created", "invoice.paid", "project.updated", "invoice.paid", "invoice.sent"]
    sent = [event(org_api, kind, {"_id": f"x_{n}"}) for n, kind in enumerate(kinds)]
    producer(*sent)
    paid_or_sent = [document(e) for e in sent if e.type in ("invoice.paid", "invoice.sent")]
    assert everything_after(org_api, types="invoice.paid,invoice.sent", limit=1) == paid_or_sent
    # As every query parameter of the API, it is given once (gRPC callers may send several values).
    assert_error(org_api.get(f"{EVENTS}?types=invoice.paid&types=invoice.sent"), 400, "types")
    # `after` may be an event the filter skips.
    assert feed(org_api, types="invoice.sent", after=sent[0].id)["events"] == [document(sent[4])]


def test_a_client_that_remembers_the_last_id_gets_every_later_event_once(org_api, producer):
    """While producers append (several at once), a client pages with `after`: it sees every event,
    once, in the order of the final feed."""
    appended: list[str] = []
    stop = threading.Event()

    def produce(worker: int) -> None:
        number = 0
        while not stop.is_set():
            batch = [event(org_api, "project.updated", {"_id": f"pr_{worker}_{number + i}"}) for i in range(3)]
            number += 3
            producer(*batch)
            appended.extend(e.id for e in batch)

    threads = [threading.Thread(target=produce, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            seen += [e["id"] for e in everything_after(org_api, seen[-1] if seen else "", limit=7)]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    seen += [e["id"] for e in everything_after(org_api, seen[-1] if seen else "")]
    assert len(seen) == len(set(seen)) and len(seen) > 30
    assert sorted(seen) == sorted(appended)
    assert seen == [e["id"] for e in everything_after(org_api)]


def test_after_must_be_an_event_of_the_callers_feed(org_api, other_api, producer):
    theirs = event(other_api, "contact.created", contact(1))
    producer(theirs)
    for after in (theirs.id, new_id("evt"), "nonsense"):
        assert assert_error(org_api.get(EVENTS, params={"after": after}), 400, "after")["field"] == "after"


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("types=invoice.pad", "types"),
        ("types=invoice.paid,,nope.nope", "types"),
    ],
)
def test_bad_parameters_are_400s_naming_them(org_api, query, field):
    body = assert_error(org_api.get(f"{EVENTS}?{query}"), 400, field)
    assert body["field"] == field


def test_unknown_and_malformed_query_parameters_are_400s(org_api):
    assert_error(org_api.get(f"{EVENTS}?starting_after=evt_1"), 400)
    assert_error(org_api.get(f"{EVENTS}?limit=abc"), 400)


def test_the_feed_takes_the_api_key_only(org_api):
    assert_error(org_api.get(EVENTS, key=None), 401)
    assert_error(org_api.get(EVENTS, key="pk_" + "a" * 43), 401)
    assert_error(portal_user(org_api).get(EVENTS), 403)


def test_appending_needs_the_internal_credential(org_api, producer):
    request = events_pb2.AppendEventsRequest(events=[event(org_api, "contact.created", contact(1))])
    for metadata in ([], [(INTERNAL_TOKEN_HEADER, "guess")], [("authorization", f"Bearer {org_api.key}")]):
        with pytest.raises(grpc.RpcError) as refused:
            producer.stub.AppendEvents(request, metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert feed(org_api)["events"] == []
    # Nor is it reachable through the gateway.
    assert org_api.post("/portal.events.v1.EventsInternalService/AppendEvents", json={}).status_code == 404


def test_a_producers_malformed_event_is_refused_whole(org_api, producer):
    good = event(org_api, "contact.created", contact(1))
    bad = event(org_api, "contact.created", contact(2))
    bad.payload = bad.payload.replace(bad.id, new_id("evt"))
    with pytest.raises(grpc.RpcError) as refused:
        producer(good, bad)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events[1].payload" in refused.value.details()
    assert feed(org_api)["events"] == []


def wait_for_events(api: Api, count: int, seconds: float = 30, **params) -> list[dict]:
    """The feed once it holds at least `count` events (producers relay theirs asynchronously)."""
    deadline = time.monotonic() + seconds
    while len(found := everything_after(api, **params)) < count:
        assert time.monotonic() < deadline, f"{len(found)} events of {count} after {seconds} s"
        time.sleep(0.05)
    return found


def test_a_change_made_through_the_api_reaches_the_feed_as_the_api_returns_it(org_api):
    created = org_api.post("/api/v1/crm/contacts", json={"email": "feed@example.com", "firstName": "Fee"})
    assert created.status_code == 201, created.text
    contact_id = created.json()["contactId"]
    [event_] = wait_for_events(org_api, 1, types="contact.created")
    assert event_["type"] == "contact.created" and event_["id"].startswith("evt_")
    assert event_["data"]["object"] == org_api.get(f"/api/v1/crm/contacts/{contact_id}").json()


@pytest.fixture(scope="module")
def nats_stack(databases, tmp_path_factory):
    """A whole portal whose services relay their events through a real NATS JetStream server."""
    server = NatsServer(tmp_path_factory.mktemp("jetstream"))
    server.start()
    running = start_stack(databases, tmp_path_factory.mktemp("nats-stack"), PORTAL_EVENT_BUS_URL=server.url)
    yield running, server
    running.stop()
    server.stop()


# The NATS transport does not depend on the database: the gRPC relay's tests cover the store on both.
@sqlite_pass_only
def test_with_nats_every_change_reaches_the_feed_across_a_restart_of_nats(nats_stack):
    """Changes keep being made while the NATS server is stopped and started again on its storage:
    each one's event reaches the feed, once."""
    stack, server = nats_stack
    api = api_for(stack, new_organization(stack, "Bus Org"))
    emails: list[str] = []

    def write(count: int) -> None:
        for _ in range(count):
            email = f"c{len(emails)}@bus.example"
            assert api.post("/api/v1/crm/contacts", json={"email": email}).status_code == 201
            emails.append(email)

    write(10)
    wait_for_events(api, 10)
    server.stop()
    write(10)  # committed while NATS is down: the events wait in the CRM's outbox
    server.start()
    write(10)
    found = wait_for_events(api, 30, seconds=60)
    assert len(found) == 30 and len({e["id"] for e in found}) == 30
    assert sorted(e["data"]["object"]["email"] for e in found) == sorted(emails)


def test_sigkilling_the_events_service_under_steady_writes_loses_no_event(stack):
    """Contacts are written steadily while the events service is killed (SIGKILL) and started
    again: every committed change's event reaches the feed, once."""
    api = api_for(stack, new_organization(stack, "Kill Org"))
    emails: list[str] = []
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            email = f"k{len(emails)}@kill.example"
            assert api.post("/api/v1/crm/contacts", json={"email": email}).status_code == 201
            emails.append(email)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for_events(api, 5)
        process = stack.processes["events"]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        stack.restart("events")  # as the supervisor does; writes go on while it starts
        before = len(emails)
        deadline = time.monotonic() + 30
        while len(emails) < before + 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
    found = wait_for_events(api, len(emails), seconds=60)
    assert len({e["id"] for e in found}) == len(found) == len(emails)
    assert sorted(e["data"]["object"]["email"] for e in found) == sorted(emails)
