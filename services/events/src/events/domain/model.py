"""Events as the store keeps them: plain Python, standard library only.

An event is `{"id": "evt_...", "type", "createdAt", "data": {"object": ...}}` (docs/events.md),
made by the service whose record changed, in the transaction of the change; the organization it
belongs to travels beside it. The store gives each new event a position: the order of the feed.
"""

import dataclasses
import json
import re

from portal_common import event_types
from portal_common.domain_errors import InvalidArgument

# What the feed's `types` filter and webhook endpoints' `enabledEvents` accept.
EVENT_TYPES = frozenset(event_types.EVENT_TYPES)

EVENT_ID = re.compile(r"evt_[0-9A-HJKMNP-TV-Z]{26}")
# What the store accepts as a type: a producer may record a type this service does not list yet.
_TYPE = re.compile(r"[a-z][a-z_]{0,29}\.[a-z][a-z_]{0,28}")
_ORGANIZATION_ID = re.compile(r"[A-Za-z0-9_]{1,40}")
# An event's JSON: the largest resource (an invoice of 200 long lines) stays well within it.
MAX_PAYLOAD_BYTES = 16 * 2**20


@dataclasses.dataclass(frozen=True)
class Event:
    id: str
    organization_id: str
    type: str
    created_at: int  # Unix ms
    payload: str  # the event JSON

    def check(self, path: str = "") -> None:
        """Refuses what a producer must never send: the store keeps events forever readable."""
        prefix = f"{path}." if path else ""
        if not EVENT_ID.fullmatch(self.id):
            raise InvalidArgument(f"{prefix}id must be evt_ and a ULID, got {self.id[:60]!r}", field=f"{prefix}id")
        if not _ORGANIZATION_ID.fullmatch(self.organization_id):
            raise InvalidArgument(f"{prefix}organizationId must be an id", field=f"{prefix}organizationId")
        if not _TYPE.fullmatch(self.type):
            raise InvalidArgument(f"{prefix}type must look like invoice.paid", field=f"{prefix}type")
        if self.created_at < 0:
            raise InvalidArgument(f"{prefix}createdAt must be 0 or more", field=f"{prefix}createdAt")
        if len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise InvalidArgument(f"{prefix}payload is larger than {MAX_PAYLOAD_BYTES} bytes", field=f"{prefix}payload")
        try:
            document = json.loads(self.payload)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
            raise InvalidArgument(f"{prefix}payload must be an event JSON object", field=f"{prefix}payload")
        if (document.get("id"), document.get("type")) != (self.id, self.type):
            raise InvalidArgument(f"{prefix}payload must have the event's id and type", field=f"{prefix}payload")


@dataclasses.dataclass(frozen=True, kw_only=True)
class StoredEvent(Event):
    position: int  # the order of the feed: positions become visible in increasing order
    stored_at: int  # Unix ms


def new_events(events: list[Event], already_stored: set[str]) -> list[Event]:
    """The events of `events` to store: those not stored yet, each id once (the first)."""
    seen = set(already_stored)
    fresh = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            fresh.append(event)
    return fresh


def feed_types(requested: list[str]) -> frozenset[str]:
    """The `types` filter of the feed: each value may hold several, comma-separated; empty: all."""
    types = {name.strip() for value in requested for name in value.split(",")} - {""}
    unknown = sorted(types - EVENT_TYPES)
    if unknown:
        raise InvalidArgument(
            f"types: unknown event type {unknown[0][:60]!r}; known: {', '.join(sorted(EVENT_TYPES))}", field="types"
        )
    return frozenset(types)
