"""Fixtures of the events service's tests."""

import json

import pytest

from events.domain.model import Event
from portal_common.ids import new_id


def producers_event(**overrides) -> Event:
    """An event as a producing service makes it (overrides: Event fields)."""
    id_ = overrides.pop("id", new_id("evt"))
    type_ = overrides.pop("type", "invoice.paid")
    organization_id = overrides.pop("organization_id", "org_1")
    created_at = overrides.pop("created_at", 1)
    document = {"id": id_, "type": type_, "createdAt": created_at, "data": {"object": {"_id": "inv_1", "total": 1500}}}
    return Event(
        **{
            "id": id_,
            "organization_id": organization_id,
            "type": type_,
            "created_at": created_at,
            "payload": json.dumps(document, separators=(",", ":")),
            **overrides,
        }
    )


@pytest.fixture
def new_event():
    """Makes events as producers do: new_event(type="contact.created", organization_id="org_2")."""
    return producers_event
