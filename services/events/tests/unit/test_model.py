"""Events as the store accepts them, and the feed's type filter."""

import pytest

from events.domain.model import EVENT_TYPES, MAX_PAYLOAD_BYTES, feed_types, new_events
from portal_common.domain_errors import InvalidArgument


def test_a_producers_event_passes(new_event):
    new_event().check("events[0]")


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"id": "evt_short", "payload": "{}"}, "events[3].id"),
        ({"id": "inv_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "events[3].id"),
        ({"organization_id": ""}, "events[3].organizationId"),
        ({"organization_id": "org/1"}, "events[3].organizationId"),
        ({"type": "Invoice.Paid"}, "events[3].type"),
        ({"type": "paid"}, "events[3].type"),
        ({"created_at": -1}, "events[3].createdAt"),
        ({"payload": "not json"}, "events[3].payload"),
        ({"payload": "[]"}, "events[3].payload"),
        ({"payload": '{"id": "x", "type": "invoice.paid"}'}, "events[3].payload"),
        ({"payload": "x" * (MAX_PAYLOAD_BYTES + 1)}, "events[3].payload"),
    ],
)
def test_what_no_producer_may_send_is_refused_naming_the_field(new_event, overrides, field):
    with pytest.raises(InvalidArgument) as refused:
        new_event(**overrides).check("events[3]")
    assert refused.value.field == field


def test_the_payload_must_be_the_same_event(new_event):
    other = new_event()
    with pytest.raises(InvalidArgument) as refused:
        new_event(payload=other.payload).check()
    assert refused.value.field == "payload"


def test_new_events_skips_the_stored_and_repeats_keeping_order(new_event):
    a, b, c = new_event(), new_event(), new_event()
    assert new_events([a, b, a, c, b], already_stored={c.id}) == [a, b]
    assert new_events([], set()) == []


def test_feed_types_split_commas_and_refuse_unknown_types():
    assert feed_types([]) == frozenset()
    assert feed_types(["invoice.paid, invoice.sent", "invoice.paid"]) == {"invoice.paid", "invoice.sent"}
    assert feed_types([","]) == frozenset()
    with pytest.raises(InvalidArgument) as refused:
        feed_types(["invoice.paid,invoice.payed"])
    assert refused.value.field == "types" and "'invoice.payed'" in refused.value.message


def test_every_type_a_producer_records_is_known():
    # The types design.md lists for the producers and the events service itself.
    assert len(EVENT_TYPES) == 19 and all(name.count(".") == 1 for name in EVENT_TYPES)
