"""Webhook endpoints, their deliveries and attempts within one unit of work.

Workers (every events process runs some) take due deliveries by claiming them: one conditional
UPDATE sets `claimed_by` and moves `next_attempt_at` to when the claim expires, on rows that were
due. A row another transaction claimed first no longer matches the condition (PostgreSQL re-checks
it on the row it waited for; SQLite runs one writer at a time), so no two workers hold one
delivery. A worker that dies leaves its claims to expire; one that restarts under the same name
takes its own back at once (`release`), as the invoice emails' outbox does.
"""

import dataclasses
import json

import sqlalchemy as sa

from events.adapters.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from events.domain.model import Event
from events.domain.webhooks import (
    ENABLED,
    MAX_ATTEMPTS_KEPT,
    PENDING,
    TEST_EVENT,
    Answer,
    Attempt,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal_common import db
from portal_common.sealed_secrets import SecretBox

_e, _d, _a = webhook_endpoints, webhook_deliveries, webhook_attempts
_DELIVERY_FIELDS = tuple(field.name for field in dataclasses.fields(WebhookDelivery))


class WebhookEndpointRepository(db.Repository):
    def __init__(self, connection: sa.Connection, box: SecretBox, locking: bool = False):
        super().__init__(connection, locking)
        self._box = box

    def _row(self, endpoint: WebhookEndpoint) -> dict:
        values = dataclasses.asdict(endpoint)
        values["enabled_events"] = json.dumps(endpoint.enabled_events)
        values["secret"] = self._box.seal(endpoint.secret, endpoint.id)
        values["previous_secret"] = (
            self._box.seal(endpoint.previous_secret, endpoint.id) if endpoint.previous_secret else None
        )
        return values

    def _endpoint(self, row) -> WebhookEndpoint:
        values = dict(row._mapping)
        values["enabled_events"] = json.loads(values["enabled_events"])
        values["secret"] = self._box.open(values["secret"], row.id)
        if values["previous_secret"] is not None:
            values["previous_secret"] = self._box.open(values["previous_secret"], row.id)
        return WebhookEndpoint(**values)

    def add(self, endpoint: WebhookEndpoint) -> None:
        self._connection.execute(_e.insert().values(**self._row(endpoint)))

    def save(self, endpoint: WebhookEndpoint) -> None:
        self._connection.execute(_e.update().where(_e.c.id == endpoint.id).values(**self._row(endpoint)))

    def delete(self, endpoint_id: str) -> None:
        doomed = sa.select(_d.c.id).where(_d.c.endpoint_id == endpoint_id).scalar_subquery()
        self._connection.execute(_a.delete().where(_a.c.delivery_id.in_(doomed)))
        self._connection.execute(_d.delete().where(_d.c.endpoint_id == endpoint_id))
        self._connection.execute(_e.delete().where(_e.c.id == endpoint_id))

    def get(self, organization_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        query = sa.select(_e).where(_e.c.organization_id == organization_id, _e.c.id == endpoint_id)
        row = self._connection.execute(self._reading(query)).one_or_none()
        return self._endpoint(row) if row is not None else None

    def enabled_of(self, organization_ids: set[str]) -> list[WebhookEndpoint]:
        query = sa.select(_e).where(_e.c.organization_id.in_(sorted(organization_ids)), _e.c.status == ENABLED)
        return [self._endpoint(row) for row in self._connection.execute(query)]

    def count(self, organization_id: str) -> int:
        return self._connection.execute(
            sa.select(sa.func.count()).select_from(_e).where(_e.c.organization_id == organization_id)
        ).scalar_one()

    def page(self, organization_id: str, limit: int, offset: int) -> tuple[list[WebhookEndpoint], int]:
        """Newest first, and how many there are in all."""
        query = (
            sa.select(_e)
            .where(_e.c.organization_id == organization_id)
            .order_by(_e.c.created_at.desc(), _e.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [self._endpoint(row) for row in self._connection.execute(query)], self.count(organization_id)


def _delivery(row) -> WebhookDelivery:
    return WebhookDelivery(**{name: getattr(row, name) for name in _DELIVERY_FIELDS})


_DELIVERY_COLUMNS = [_d.c[name] for name in _DELIVERY_FIELDS]


class WebhookDeliveryRepository(db.Repository):
    def subscriptions(self, organization_ids: set[str]) -> list[Subscription]:
        """What the enabled endpoints of these organizations receive (no secret is opened)."""
        query = sa.select(_e.c.id, _e.c.organization_id, _e.c.enabled_events).where(
            _e.c.organization_id.in_(sorted(organization_ids)), _e.c.status == ENABLED
        )
        return [
            Subscription(row.id, row.organization_id, json.loads(row.enabled_events))
            for row in self._connection.execute(query)
        ]

    def events_since(self, organization_id: str, since: int, types: list[str] | None, limit: int) -> list[Event]:
        """The organization's kept events created at or after `since`, of `types` (all when None),
        in the feed's order, but for test events (each was for one endpoint, once)."""
        where = [events.c.organization_id == organization_id, events.c.created_at >= since, events.c.type != TEST_EVENT]
        if types is not None:
            where.append(events.c.type.in_(types))
        query = (
            sa.select(events.c.id, events.c.organization_id, events.c.type, events.c.created_at)
            .where(*where)
            .order_by(events.c.position)
            .limit(limit)
        )
        return [
            Event(row.id, row.organization_id, row.type, row.created_at, "") for row in self._connection.execute(query)
        ]

    def add_all(self, deliveries: list[WebhookDelivery]) -> None:
        if deliveries:
            self._connection.execute(_d.insert(), [dataclasses.asdict(delivery) for delivery in deliveries])

    def get(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        query = sa.select(*_DELIVERY_COLUMNS).where(_d.c.endpoint_id == endpoint_id, _d.c.id == delivery_id)
        row = self._connection.execute(self._reading(query)).one_or_none()
        return _delivery(row) if row is not None else None

    def of_events(self, endpoint_id: str, event_ids: list[str]) -> dict[str, WebhookDelivery]:
        """The endpoint's deliveries of these events, by event id."""
        query = sa.select(*_DELIVERY_COLUMNS).where(_d.c.endpoint_id == endpoint_id, _d.c.event_id.in_(event_ids))
        return {row.event_id: _delivery(row) for row in self._connection.execute(self._reading(query))}

    def save(self, delivery: WebhookDelivery) -> None:
        """Writes a delivery the caller asked about (a retry): whoever held it no longer does."""
        values = {name: getattr(delivery, name) for name in _DELIVERY_FIELDS}
        self._connection.execute(_d.update().where(_d.c.id == delivery.id).values(**values, claimed_by=None))

    def page(self, endpoint_id: str, status: str, limit: int, offset: int) -> tuple[list[WebhookDelivery], int]:
        """Newest first (`status` filters unless empty), and how many match in all."""
        where = [_d.c.endpoint_id == endpoint_id]
        if status:
            where.append(_d.c.status == status)
        query = (
            sa.select(*_DELIVERY_COLUMNS)
            .where(*where)
            .order_by(_d.c.created_at.desc(), _d.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        found = [_delivery(row) for row in self._connection.execute(query)]
        total = self._connection.execute(sa.select(sa.func.count()).select_from(_d).where(*where)).scalar_one()
        return found, total

    def abandon_pending(self, endpoint_id: str) -> int:
        """The endpoint was disabled: its pending deliveries fail (whoever holds one lets go)."""
        abandoned = self._connection.execute(
            _d.update()
            .where(_d.c.endpoint_id == endpoint_id, _d.c.status == PENDING)
            .values(status="failed", next_attempt_at=None, claimed_by=None)
        )
        return abandoned.rowcount

    # The workers

    def claim(self, worker: str, now: int, hold_until: int, batch: int) -> list[WebhookDelivery]:
        """Takes up to `batch` pending deliveries due at `now`, oldest due first, for `worker` until
        `hold_until`."""
        due = (
            sa.select(_d.c.id)
            .where(_d.c.status == PENDING, _d.c.next_attempt_at <= now)
            .order_by(_d.c.next_attempt_at)
            .limit(batch)
        )
        claimed = self._connection.execute(
            _d.update()
            .where(_d.c.id.in_(due.scalar_subquery()), _d.c.status == PENDING, _d.c.next_attempt_at <= now)
            .values(claimed_by=worker, next_attempt_at=hold_until)
            .returning(*_DELIVERY_COLUMNS)
        )
        return sorted((_delivery(row) for row in claimed), key=lambda delivery: delivery.created_at)

    def settle(self, delivery: WebhookDelivery, worker: str) -> bool:
        """Writes the outcome of an attempt `worker` made, and lets go. False when it no longer held
        the delivery (its claim expired and another worker took it, or a retry or a disabling reset it)."""
        values = {name: getattr(delivery, name) for name in ("status", "failures", "next_attempt_at", "delivered_at")}
        settled = self._connection.execute(
            _d.update()
            .where(_d.c.id == delivery.id, _d.c.claimed_by == worker, _d.c.status == PENDING)
            .values(**values, claimed_by=None)
        )
        return settled.rowcount == 1

    def release(self, worker: str, now: int) -> int:
        """Lets go of every pending delivery `worker` holds, due at once; how many."""
        released = self._connection.execute(
            _d.update()
            .where(_d.c.claimed_by == worker, _d.c.status == PENDING)
            .values(claimed_by=None, next_attempt_at=now)
        )
        return released.rowcount

    def next_due(self) -> int | None:
        """When the next pending delivery falls due (or a claim on one expires)."""
        return self._connection.execute(
            sa.select(sa.func.min(_d.c.next_attempt_at)).where(_d.c.status == PENDING)
        ).scalar_one_or_none()

    def payload(self, event_id: str) -> str | None:
        """The JSON of a stored event (None once the retention purged it)."""
        return self._connection.execute(sa.select(events.c.payload).where(events.c.id == event_id)).scalar_one_or_none()

    def delete_created_before(self, cutoff: int, batch: int) -> int:
        """Forgets up to `batch` deliveries (with their attempts) made before `cutoff`; how many."""
        doomed = list(
            self._connection.execute(sa.select(_d.c.id).where(_d.c.created_at < cutoff).limit(batch)).scalars()
        )
        if doomed:
            self._connection.execute(_a.delete().where(_a.c.delivery_id.in_(doomed)))
            self._connection.execute(_d.delete().where(_d.c.id.in_(doomed)))
        return len(doomed)


class WebhookAttemptRepository(db.Repository):
    def add(self, attempt: Attempt) -> None:
        """Keeps the attempt, and the delivery's MAX_ATTEMPTS_KEPT latest with it."""
        answer = attempt.answer
        self._connection.execute(
            _a.insert().values(
                delivery_id=attempt.delivery_id,
                attempted_at=attempt.attempted_at,
                http_status=answer.http_status,
                duration_ms=answer.duration_ms,
                response_body=answer.body,
                error=answer.error,
            )
        )
        kept = (
            sa.select(_a.c.id)
            .where(_a.c.delivery_id == attempt.delivery_id)
            .order_by(_a.c.id.desc())
            .limit(MAX_ATTEMPTS_KEPT)
        )
        self._connection.execute(
            _a.delete().where(_a.c.delivery_id == attempt.delivery_id, _a.c.id.not_in(kept.scalar_subquery()))
        )

    def of_deliveries(self, delivery_ids: list[str]) -> dict[str, list[Attempt]]:
        """The kept attempts of each delivery, newest first."""
        found: dict[str, list[Attempt]] = {delivery_id: [] for delivery_id in delivery_ids}
        query = sa.select(_a).where(_a.c.delivery_id.in_(delivery_ids)).order_by(_a.c.id.desc())
        for row in self._connection.execute(query):
            found[row.delivery_id].append(
                Attempt(
                    row.delivery_id,
                    row.attempted_at,
                    Answer(row.http_status, row.duration_ms, body=row.response_body, error=row.error),
                )
            )
        return found


def deliveries_waiting(database: db.Database, limit: int) -> int:
    """Webhook deliveries not yet delivered nor given up (a metric), counted up to `limit` on the
    webhook_deliveries_due index."""
    with database.read() as connection:
        return db.count_up_to(connection, sa.select(_d.c.status).where(_d.c.status == PENDING), limit)
