"""The outbox of invoice emails within one unit of work.

Workers (one per replica of the service) take queued emails by claiming them: one conditional
UPDATE sets `claimed_by` and moves `next_attempt_at` to when the claim expires, on the rows that
were due. A row that another transaction claimed first no longer matches the condition (on
PostgreSQL the UPDATE re-checks it on the row it waited for; SQLite runs one writer at a time), so
no two workers ever hold one email. A worker that dies leaves its claims to expire; a worker that
restarts under the same name takes its own claims back at once (`release`).
"""

import sqlalchemy as sa

from invoicing.adapters.tables import outbound_emails
from invoicing.domain.email import QUEUED, OutboundEmail
from portal_common import db

_t = outbound_emails
# The entity's fields that are columns of the same name (`to` is the column `recipient`).
_FIELDS = (
    "id",
    "organization_id",
    "invoice_id",
    "kind",
    "subject",
    "message_id",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "next_attempt_at",
)
_COLUMNS = [_t.c[name] for name in _FIELDS] + [_t.c.recipient]


def _email(row) -> OutboundEmail:
    return OutboundEmail(**{name: getattr(row, name) for name in _FIELDS}, to=row.recipient)


class OutboundEmailRepository(db.Repository):
    def add(self, email: OutboundEmail) -> None:
        values = {name: getattr(email, name) for name in _FIELDS}
        self._connection.execute(_t.insert().values(**values, recipient=email.to))

    def of_invoice(self, organization_id: str, invoice_id: str) -> list[OutboundEmail]:
        """Newest first (the domain bounds how many one invoice has)."""
        query = (
            sa.select(*_COLUMNS)
            .where(_t.c.invoice_id == invoice_id, _t.c.organization_id == organization_id)
            .order_by(_t.c.created_at.desc(), _t.c.id.desc())
        )
        return [_email(row) for row in self._connection.execute(query)]

    def claim(self, worker: str, now: int, hold_until: int, batch: int) -> list[OutboundEmail]:
        """Takes up to `batch` queued emails due at `now`, oldest due first, for `worker` until
        `hold_until`."""
        due = (
            sa.select(_t.c.id)
            .where(_t.c.status == QUEUED, _t.c.next_attempt_at <= now)
            .order_by(_t.c.next_attempt_at)
            .limit(batch)
        )
        claimed = self._connection.execute(
            _t.update()
            .where(_t.c.id.in_(due.scalar_subquery()), _t.c.status == QUEUED, _t.c.next_attempt_at <= now)
            .values(claimed_by=worker, next_attempt_at=hold_until)
            .returning(*_COLUMNS)
        )
        return sorted((_email(row) for row in claimed), key=lambda email: email.created_at)

    def save(self, email: OutboundEmail, worker: str) -> bool:
        """Writes what happened to an email `worker` holds, and lets go of it. False when the worker
        no longer held it (its claim expired and another worker took it)."""
        values = {name: getattr(email, name) for name in ("status", "attempts", "last_error", "sent_at")}
        saved = self._connection.execute(
            _t.update()
            .where(_t.c.id == email.id, _t.c.claimed_by == worker, _t.c.status == QUEUED)
            .values(**values, next_attempt_at=email.next_attempt_at, claimed_by=None)
        )
        return saved.rowcount == 1

    def release(self, worker: str, now: int) -> int:
        """Lets go of every queued email `worker` holds, due at once; how many."""
        released = self._connection.execute(
            _t.update()
            .where(_t.c.claimed_by == worker, _t.c.status == QUEUED)
            .values(claimed_by=None, next_attempt_at=now)
        )
        return released.rowcount

    def next_due(self) -> int | None:
        """When the next queued email falls due (or a claim on one expires)."""
        query = sa.select(sa.func.min(_t.c.next_attempt_at)).where(_t.c.status == QUEUED)
        return self._connection.execute(query).scalar_one_or_none()


def emails_waiting(database: db.Database, limit: int) -> int:
    """Emails queued for delivery (a metric), counted up to `limit` on the outbound_emails_due index."""
    with database.read() as connection:
        return db.count_up_to(connection, sa.select(_t.c.status).where(_t.c.status == QUEUED), limit)
