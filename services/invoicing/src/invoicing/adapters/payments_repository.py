"""Payment connections and their events within one unit of work, and the unit of work that holds
them beside the invoices (a payment event is stored and applied in one transaction)."""

import sqlalchemy as sa

from invoicing.adapters.repository import RenderView
from invoicing.adapters.tables import payment_connections, payment_events
from invoicing.adapters.unit_of_work import SqlInvoicingUnitOfWork
from invoicing.domain.payments import PaymentConnection, StoredEvent
from portal_common import db
from portal_common.db import Database
from portal_common.outbox import Outbox
from portal_common.sealed_secrets import SecretBox

_EVENT_FIELDS = tuple(column.name for column in payment_events.c)


class PaymentConnectionRepository(db.Repository):
    def __init__(self, connection: sa.Connection, box: SecretBox, locking: bool = False):
        super().__init__(connection, locking)
        self._box = box

    def _sealed(self, secret: str | None, connection_id: str) -> bytes | None:
        return self._box.seal(secret, connection_id) if secret else None

    def _row(self, found: PaymentConnection) -> dict:
        return {
            "id": found.id,
            "organization_id": found.organization_id,
            "provider": found.provider,
            "token_hash": found.token_hash,
            "token_hint": found.token_hint,
            "secret": self._sealed(found.secret, found.id),
            "previous_secret": self._sealed(found.previous_secret, found.id),
            "previous_secret_expires_at": found.previous_secret_expires_at,
            "created_at": found.created_at,
            "rotated_at": found.rotated_at,
            "revoked_at": found.revoked_at,
        }

    def _connection_of(self, row) -> PaymentConnection:
        values = dict(row._mapping)
        for name in ("secret", "previous_secret"):
            values[name] = self._box.open(values[name], row.id) if values[name] else None
        return PaymentConnection(**values)

    def add(self, found: PaymentConnection) -> None:
        self._connection.execute(payment_connections.insert().values(**self._row(found)))

    def save(self, found: PaymentConnection) -> None:
        self._connection.execute(
            payment_connections.update().where(payment_connections.c.id == found.id).values(**self._row(found))
        )

    def get(self, organization_id: str, connection_id: str) -> PaymentConnection | None:
        query = sa.select(payment_connections).where(
            payment_connections.c.organization_id == organization_id, payment_connections.c.id == connection_id
        )
        row = self._connection.execute(self._reading(query)).one_or_none()
        return self._connection_of(row) if row is not None else None

    def by_token(self, token_hash: str) -> PaymentConnection | None:
        """The connection of a webhook URL's token (revoked ones too: the caller decides)."""
        query = sa.select(payment_connections).where(payment_connections.c.token_hash == token_hash)
        row = self._connection.execute(query).one_or_none()
        return self._connection_of(row) if row is not None else None

    def _count(self, *where) -> int:
        return self._connection.execute(
            sa.select(sa.func.count()).select_from(payment_connections).where(*where)
        ).scalar_one()

    def count_active(self, organization_id: str) -> int:
        return self._count(
            payment_connections.c.organization_id == organization_id, payment_connections.c.revoked_at.is_(None)
        )

    def page(self, organization_id: str, limit: int, offset: int) -> tuple[list[PaymentConnection], int]:
        """Newest first, and how many there are in all."""
        mine = payment_connections.c.organization_id == organization_id
        query = (
            sa.select(payment_connections)
            .where(mine)
            .order_by(payment_connections.c.created_at.desc(), payment_connections.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        found = [self._connection_of(row) for row in self._connection.execute(query)]
        total = self._count(mine)
        return found, total


class PaymentEventRepository(db.Repository):
    def add(self, event: StoredEvent) -> None:
        """Stores a new event; a second one with the same provider event id for the connection
        violates a unique index (IntegrityError), whatever the code does."""
        self._connection.execute(
            payment_events.insert().values(**{name: getattr(event, name) for name in _EVENT_FIELDS})
        )

    def seen(self, connection_id: str, provider_event_id: str) -> bool:
        query = sa.select(payment_events.c.id).where(
            payment_events.c.connection_id == connection_id, payment_events.c.provider_event_id == provider_event_id
        )
        return self._connection.execute(query).first() is not None

    def page(self, connection_id: str, status: str, limit: int, offset: int) -> tuple[list[StoredEvent], int]:
        """Newest first (`status` filters unless empty), and how many match in all."""
        where = [payment_events.c.connection_id == connection_id]
        if status:
            where.append(payment_events.c.status == status)
        query = (
            sa.select(payment_events)
            .where(*where)
            .order_by(payment_events.c.received_at.desc(), payment_events.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        found = [StoredEvent(**row._mapping) for row in self._connection.execute(query)]
        total = self._connection.execute(
            sa.select(sa.func.count()).select_from(payment_events).where(*where)
        ).scalar_one()
        return found, total


class SqlPaymentsUnitOfWork(SqlInvoicingUnitOfWork):
    """The invoicing unit of work with the payment connections and events in it."""

    def __init__(
        self, database: Database, outbox: Outbox, render_view: RenderView, box: SecretBox, read_only: bool = False
    ):
        super().__init__(database, outbox, render_view, read_only)
        self._box = box

    def open(self, connection: sa.Connection) -> None:
        super().open(connection)
        self.payment_connections = PaymentConnectionRepository(connection, self._box, locking=not self.read_only)
        self.payment_events = PaymentEventRepository(connection, locking=not self.read_only)
