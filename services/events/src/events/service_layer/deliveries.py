"""Webhook deliveries of stored events (filled in by the webhook work, which owns this module)."""

import sqlalchemy as sa

from events.domain.model import StoredEvent


def schedule(connection: sa.Connection, stored: list[StoredEvent]) -> None:
    """Creates, in the transaction of `connection`, a delivery for every enabled webhook endpoint
    of each event's organization that subscribes to its type. No endpoints exist yet."""
