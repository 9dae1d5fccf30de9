"""The event store's writes, within one unit of work.

Positions come from one counter row, locked by the inserting transaction from before it looks for
duplicates until it commits. Inserting transactions therefore run one after another, each taking
the positions after the last one's: a position becomes visible only after every lower one has, so
a reader paging by position never skips an event that commits later with a lower position (as it
could with an autoincrement, whose values are taken in start order but committed in any order).
SQLite needs no row lock: a write transaction there holds the database's write lock already.
"""

import dataclasses
import itertools
from typing import Sequence

import sqlalchemy as sa

from events.adapters.tables import event_counters, events
from events.domain.model import Event, StoredEvent, new_events
from portal_common import db

_POSITIONS = "events"
_COLUMNS = (events.c.id, events.c.organization_id, events.c.type, events.c.created_at, events.c.payload)


def stored_event(row) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        organization_id=row.organization_id,
        type=row.type,
        created_at=row.created_at,
        payload=row.payload,
        position=row.position,
        stored_at=row.stored_at,
    )


class EventRepository(db.Repository):
    def add_new(self, batch: Sequence[Event], now: int) -> list[StoredEvent]:
        """Stores the events of `batch` whose ids are not stored yet, in order, after every event
        stored before; returns them with their positions."""
        last = self._connection.execute(
            sa.select(event_counters.c.value).where(event_counters.c.name == _POSITIONS).with_for_update()
        ).scalar_one()
        ids = sorted({event.id for event in batch})
        already = set(self._connection.execute(sa.select(events.c.id).where(events.c.id.in_(ids))).scalars())
        fresh = new_events(list(batch), already)
        if not fresh:
            return []
        stored = [
            StoredEvent(**dataclasses.asdict(event), position=last + offset, stored_at=now)
            for offset, event in enumerate(fresh, start=1)
        ]
        self._connection.execute(
            event_counters.update().where(event_counters.c.name == _POSITIONS).values(value=last + len(fresh))
        )
        self._connection.execute(events.insert(), [dataclasses.asdict(event) for event in stored])
        return stored

    def delete_stored_before(self, cutoff: int, batch: int) -> int:
        """Deletes up to `batch` of the oldest events, those stored before `cutoff` (Unix ms): the
        store only ever loses its oldest end. Returns how many went."""
        oldest = self._connection.execute(
            sa.select(events.c.position, events.c.stored_at).order_by(events.c.position).limit(batch)
        ).all()
        # Up to the first event that must stay: a later one stored earlier (a clock behind) stays too.
        expired = list(itertools.takewhile(lambda row: row.stored_at < cutoff, oldest))
        if expired:
            self._connection.execute(events.delete().where(events.c.position <= expired[-1].position))
        return len(expired)
