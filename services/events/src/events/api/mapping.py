"""Protobuf <-> the events service's domain: the only module that knows both."""

import json

from events.domain.model import Event
from events.queries import FeedPage
from portal.events.v1 import events_pb2


def event_from_envelope(envelope: events_pb2.EventEnvelope) -> Event:
    return Event(
        id=envelope.id,
        organization_id=envelope.organization_id,
        type=envelope.type,
        created_at=envelope.created_at,
        payload=envelope.payload,
    )


def event_from_bus_message(data: bytes) -> Event:
    """A JetStream message's body: a serialized EventEnvelope (a DecodeError when it is not)."""
    return event_from_envelope(events_pb2.EventEnvelope.FromString(data))


def event_message(payload: str) -> events_pb2.Event:
    """A stored event JSON as the feed returns it."""
    document = json.loads(payload)
    message = events_pb2.Event(id=document["id"], type=document["type"], created_at=document["createdAt"])
    message.data.update(document["data"])
    return message


def feed_response(page: FeedPage) -> events_pb2.ListEventsResponse:
    return events_pb2.ListEventsResponse(
        events=[event_message(payload) for payload in page.payloads], has_more=page.has_more
    )
