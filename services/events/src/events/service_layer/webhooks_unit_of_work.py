"""The events service's unit of work with the webhook endpoints, deliveries and attempts in it:
events are stored and their deliveries queued in one transaction, and a delivery's outcome, its
endpoint's state and a `webhook_endpoint.disabled` event are written together."""

import sqlalchemy as sa

from events.adapters.webhook_repository import (
    WebhookAttemptRepository,
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
)
from events.domain.model import StoredEvent
from events.service_layer import deliveries
from events.service_layer.unit_of_work import EventsUnitOfWork
from portal_common.db import Database
from portal_common.sealed_secrets import SecretBox


class WebhooksUnitOfWork(EventsUnitOfWork):
    endpoints: WebhookEndpointRepository
    deliveries: WebhookDeliveryRepository
    attempts: WebhookAttemptRepository

    def __init__(self, database: Database, box: SecretBox, read_only: bool = False):
        super().__init__(database, read_only)
        self._box = box
        self._scheduled = False

    def open(self, connection: sa.Connection) -> None:
        super().open(connection)
        locking = not self.read_only
        self.endpoints = WebhookEndpointRepository(connection, self._box, locking=locking)
        self.deliveries = WebhookDeliveryRepository(connection, locking=locking)
        self.attempts = WebhookAttemptRepository(connection)

    def schedule_deliveries(self, stored: list[StoredEvent]) -> None:
        super().schedule_deliveries(stored)
        self._scheduled = True

    def requeued(self) -> None:
        """Deliveries were made due by this transaction (a retry, a recovery)."""
        self._scheduled = True

    def commit(self) -> None:
        super().commit()
        if self._scheduled:  # wakes this process's delivery worker (other processes' look by themselves)
            self._scheduled = False
            deliveries.QUEUED.set()
