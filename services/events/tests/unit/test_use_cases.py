"""The event store's use cases on a fake unit of work: rows written only on commit."""

import pytest

from events.domain.model import Event, StoredEvent, new_events
from events.service_layer.events import MAX_BATCH, PURGE_BATCH, EventStore, store
from portal_common.domain_errors import InvalidArgument

DAY_MS = 86_400_000


class FakeEventRepository:
    def __init__(self, rows: list[StoredEvent]):
        self._rows = rows

    def add_new(self, batch: list[Event], now: int) -> list[StoredEvent]:
        last = self._rows[-1].position if self._rows else 0
        fresh = new_events(batch, {row.id for row in self._rows})
        stored = [
            StoredEvent(**vars(e), position=last + offset, stored_at=now) for offset, e in enumerate(fresh, start=1)
        ]
        self._rows.extend(stored)
        return stored

    def delete_stored_before(self, cutoff: int, batch: int) -> int:
        expired = 0
        for row in self._rows[:batch]:
            if row.stored_at >= cutoff:
                break
            expired += 1
        del self._rows[:expired]
        return expired


class FakeUnitOfWork:
    def __init__(self, committed: list[StoredEvent], scheduled: list[StoredEvent]):
        self._committed = committed
        self._scheduled = scheduled

    def __enter__(self):
        self._rows = list(self._committed)
        self._pending_schedule: list[StoredEvent] = []
        self.events = FakeEventRepository(self._rows)
        return self

    def schedule_deliveries(self, stored: list[StoredEvent]) -> None:
        self._pending_schedule.extend(stored)

    def commit(self) -> None:
        self._committed[:] = self._rows
        self._scheduled.extend(self._pending_schedule)
        self.commits = getattr(self, "commits", 0) + 1

    def __exit__(self, *exc) -> None:
        pass


class Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def world():
    committed: list[StoredEvent] = []
    scheduled: list[StoredEvent] = []
    clock = Clock(100 * DAY_MS)
    return committed, scheduled, clock, EventStore(lambda: FakeUnitOfWork(committed, scheduled), clock, 30)


def test_append_stores_new_events_in_order_and_schedules_their_deliveries(world, new_event):
    committed, scheduled, clock, events = world
    a, b, c = new_event(), new_event(), new_event()
    assert [s.id for s in events.append([a, b])] == [a.id, b.id]
    stored = events.append([b, c, a])
    assert [(s.id, s.position, s.stored_at) for s in stored] == [(c.id, 3, clock.now)]
    assert [s.id for s in committed] == [a.id, b.id, c.id]
    assert scheduled == committed


def test_nothing_new_schedules_nothing(world, new_event):
    committed, scheduled, _, events = world
    a = new_event()
    events.append([a])
    assert events.append([a, a]) == [] and len(scheduled) == 1


def test_a_bad_event_refuses_the_whole_batch(world, new_event):
    committed, _, _, events = world
    with pytest.raises(InvalidArgument) as refused:
        events.append([new_event(), new_event(type="nope")])
    assert refused.value.field == "events[1].type" and committed == []


def test_batches_are_bounded(world, new_event):
    _, _, _, events = world
    with pytest.raises(InvalidArgument) as refused:
        events.append([new_event() for _ in range(MAX_BATCH + 1)])
    assert refused.value.field == "events"


def test_store_is_the_one_way_in_within_a_callers_transaction(world, new_event):
    committed, scheduled, clock, _ = world
    uow = FakeUnitOfWork(committed, scheduled)
    with uow:
        stored = store(uow, [new_event()], clock.now)
        assert committed == [] and scheduled == []  # the caller commits
        uow.commit()
    assert committed == stored and scheduled == stored


def test_purge_forgets_what_was_stored_before_the_retention_in_batches(world, new_event):
    committed, _, clock, events = world
    old = [new_event() for _ in range(PURGE_BATCH + 5)]
    clock.now = 10 * DAY_MS
    events.append(old[:PURGE_BATCH])
    clock.now = 11 * DAY_MS
    events.append(old[PURGE_BATCH:])
    clock.now = 40 * DAY_MS + 1  # the first batch is 30 days and 1 ms old
    recent = new_event()
    events.append([recent])
    assert events.purge_expired() == PURGE_BATCH
    assert [s.id for s in committed] == [e.id for e in old[PURGE_BATCH:]] + [recent.id]
    clock.now = 100 * DAY_MS
    assert events.purge_expired() == 6 and committed == []
