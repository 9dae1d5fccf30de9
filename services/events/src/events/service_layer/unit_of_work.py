"""The events service's unit of work: one write transaction and the repositories that work in it."""

import sqlalchemy as sa

from events.adapters.store import EventRepository
from events.domain.model import StoredEvent
from events.service_layer import deliveries
from portal_common.uow import SqlUnitOfWork


class EventsUnitOfWork(SqlUnitOfWork):
    events: EventRepository

    def open(self, connection: sa.Connection) -> None:
        self.events = EventRepository(connection, locking=True)

    def schedule_deliveries(self, stored: list[StoredEvent]) -> None:
        """Queues the webhook deliveries of events just stored, in this transaction."""
        deliveries.schedule(self._open_connection(), stored)
