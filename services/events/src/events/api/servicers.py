"""The events service's gRPC servicers: request -> use case or query -> response."""

from events.api import mapping
from events.domain.model import feed_types
from events.queries import EventFeed
from events.service_layer.events import EventStore
from portal.events.v1 import events_pb2, events_pb2_grpc
from portal_common.auth import current_principal
from portal_common.pagination import page_limit


class EventsServicer(events_pb2_grpc.EventsServiceServicer):
    def __init__(self, feed: EventFeed):
        self._feed = feed

    def ListEvents(self, request, context):
        limit = page_limit(request)
        types = feed_types(list(request.types))
        page = self._feed.page(current_principal().organization_id, request.after, types, limit)
        return mapping.feed_response(page)


class EventsInternalServicer(events_pb2_grpc.EventsInternalServiceServicer):
    def __init__(self, store: EventStore):
        self._store = store

    def AppendEvents(self, request, context):
        stored = self._store.append([mapping.event_from_envelope(envelope) for envelope in request.events])
        return events_pb2.AppendEventsResponse(stored=len(stored))
