"""Stored events as the feed's messages, and envelopes as events."""

import json

from google.protobuf import json_format

from events.api import mapping
from events.queries import FeedPage
from portal.events.v1 import events_pb2


def test_a_stored_event_prints_as_it_was_produced():
    produced = {
        "id": "evt_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "type": "invoice.email_failed",
        "createdAt": 1767225600123,
        "data": {"object": {"_id": "inv_1", "total": 1500, "tags": ["a"], "paidAt": None}, "email": {"to": "x@y.z"}},
    }
    message = mapping.event_message(json.dumps(produced))
    assert json_format.MessageToDict(message) == produced
    assert message.created_at == 1767225600123


def test_a_page_keeps_its_order_and_has_more():
    payloads = [json.dumps({"id": f"evt_{n}", "type": "a.b", "createdAt": n, "data": {}}) for n in range(3)]
    response = mapping.feed_response(FeedPage(payloads=payloads, has_more=True))
    assert [e.id for e in response.events] == ["evt_0", "evt_1", "evt_2"] and response.has_more


def test_a_bus_message_is_an_envelope():
    envelope = events_pb2.EventEnvelope(id="evt_1", organization_id="org_1", type="a.b", created_at=5, payload="{}")
    event = mapping.event_from_bus_message(envelope.SerializeToString())
    assert (event.id, event.organization_id, event.type, event.created_at, event.payload) == (
        "evt_1",
        "org_1",
        "a.b",
        5,
        "{}",
    )
