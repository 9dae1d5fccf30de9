"""The events service over real gRPC, with a real auth service behind it: the feed as API-key
callers read it and AppendEvents as the producers' relays call it."""

import dataclasses
import json

import grpc
import pytest

from events.config import Settings
from events.server import build, open_store
from portal.events.v1 import events_pb2, events_pb2_grpc
from portal_common.auth import INTERNAL_TOKEN_HEADER
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info, free_port


@pytest.fixture(scope="module")
def stubs(grpc_peers, databases):
    settings = Settings(
        database_url=databases.new_url("events"),
        address=f"127.0.0.1:{free_port()}",
        auth_target=grpc_peers.auth_target,
        internal_token=grpc_peers.internal_token,
    )
    database, store = open_store(settings)
    server, port = build(settings, settings.address, database, store)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield (
        grpc_peers,
        events_pb2_grpc.EventsServiceStub(channel),
        events_pb2_grpc.EventsInternalServiceStub(channel),
    )
    channel.close()
    server.stop(None)


def envelope(event) -> events_pb2.EventEnvelope:
    return events_pb2.EventEnvelope(**dataclasses.asdict(event))


def test_appended_events_are_listed_for_their_organization_only(stubs, new_event):
    peers, feed, internal = stubs
    mine_id, key = peers.accounts.create_organization("Acme")
    _, other_key = peers.accounts.create_organization("Other")
    events = [new_event(organization_id=mine_id, type=t) for t in ("invoice.paid", "contact.created")]
    internal_metadata = [(INTERNAL_TOKEN_HEADER, peers.internal_token)]
    reply = internal.AppendEvents(
        events_pb2.AppendEventsRequest(events=[envelope(e) for e in events]), metadata=internal_metadata
    )
    assert reply.stored == 2

    page = feed.ListEvents(events_pb2.ListEventsRequest(limit=1), metadata=bearer(key))
    assert [e.id for e in page.events] == [events[0].id] and page.has_more
    assert page.events[0].data["object"]["total"] == 1500 and page.events[0].created_at == 1
    page = feed.ListEvents(
        events_pb2.ListEventsRequest(after=events[0].id, types=["contact.created"]), metadata=bearer(key)
    )
    assert [e.id for e in page.events] == [events[1].id] and not page.has_more
    assert list(feed.ListEvents(events_pb2.ListEventsRequest(), metadata=bearer(other_key)).events) == []


@pytest.mark.parametrize(
    "request_, field",
    [
        (events_pb2.ListEventsRequest(after="evt_01ARZ3NDEKTSV4RRFFQ69G5FAV"), "after"),
        (events_pb2.ListEventsRequest(limit=0), "limit"),
        (events_pb2.ListEventsRequest(types=["invoice.paid", "nope.nope"]), "types"),
    ],
)
def test_bad_requests_are_invalid_arguments_naming_the_field(stubs, request_, field):
    peers, feed, _ = stubs
    _, key = peers.accounts.create_organization("Acme")
    with pytest.raises(grpc.RpcError) as refused:
        feed.ListEvents(request_, metadata=bearer(key))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).metadata["field"] == field


def test_the_feed_needs_a_credential_and_appending_the_internal_one(stubs, new_event):
    peers, feed, internal = stubs
    _, key = peers.accounts.create_organization("Acme")
    with pytest.raises(grpc.RpcError) as refused:
        feed.ListEvents(events_pb2.ListEventsRequest())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    request = events_pb2.AppendEventsRequest(events=[envelope(new_event())])
    for metadata in (bearer(key), [(INTERNAL_TOKEN_HEADER, "not-it")]):
        with pytest.raises(grpc.RpcError) as refused:
            internal.AppendEvents(request, metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_malformed_event_is_an_invalid_argument_naming_it(stubs, new_event):
    peers, _, internal = stubs
    bad = dataclasses.replace(new_event(), payload="{}")
    request = events_pb2.AppendEventsRequest(events=[envelope(new_event()), envelope(bad)])
    with pytest.raises(grpc.RpcError) as refused:
        internal.AppendEvents(request, metadata=[(INTERNAL_TOKEN_HEADER, peers.internal_token)])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).metadata["field"] == "events[1].payload"


def test_a_batch_larger_than_grpcs_default_limit_is_taken(stubs, new_event):
    """The relays send up to 500 events at once, large resources included: past gRPC's 4 MiB."""
    peers, feed, internal = stubs
    organization_id, key = peers.accounts.create_organization("Acme")
    large = []
    for _ in range(6):
        event = new_event(organization_id=organization_id)
        document = json.loads(event.payload)
        document["data"]["object"]["notes"] = "n" * 1_000_000
        large.append(dataclasses.replace(event, payload=json.dumps(document)))
    request = events_pb2.AppendEventsRequest(events=[envelope(e) for e in large])
    assert request.ByteSize() > 6_000_000
    reply = internal.AppendEvents(request, metadata=[(INTERNAL_TOKEN_HEADER, peers.internal_token)])
    assert reply.stored == 6
    page = feed.ListEvents(events_pb2.ListEventsRequest(limit=1), metadata=bearer(key))
    assert len(page.events[0].data["object"]["notes"]) == 1_000_000
    # A page stops short of MAX_PAGE_BYTES (3 MiB) whatever the limit: hasMore says more follow.
    page = feed.ListEvents(events_pb2.ListEventsRequest(limit=10), metadata=bearer(key))
    assert [e.id for e in page.events] == [e.id for e in large[:3]] and page.has_more
    page = feed.ListEvents(events_pb2.ListEventsRequest(after=large[2].id), metadata=bearer(key))
    assert [e.id for e in page.events] == [e.id for e in large[3:]] and not page.has_more
