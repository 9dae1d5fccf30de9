"""The event store's use cases: storing what producers send, and forgetting the expired."""

from typing import Callable, Protocol, TypeVar

from events.adapters.store import EventRepository
from events.domain.model import Event, StoredEvent
from portal_common.domain_errors import InvalidArgument
from portal_common.uow import UnitOfWork

# How many events one AppendEvents call or bus fetch may carry (the relays send up to 500), and
# how large the call may be.
MAX_BATCH = 1000
MAX_BATCH_BYTES = 64 * 2**20
# How many expired events one purge transaction deletes: short transactions, as writers wait.
PURGE_BATCH = 1000
DAY_MS = 86_400_000

U = TypeVar("U", bound=UnitOfWork)


class StoreUnitOfWork(Protocol):
    events: EventRepository

    def __enter__(self) -> "StoreUnitOfWork": ...

    def __exit__(self, *exc) -> None: ...

    def commit(self) -> None: ...

    def schedule_deliveries(self, stored: list[StoredEvent]) -> None: ...


def store(uow: StoreUnitOfWork, batch: list[Event], now: int) -> list[StoredEvent]:
    """Stores the new events of `batch` in `uow`'s transaction, with their webhook deliveries; the
    caller commits. Every path into the store goes through here."""
    stored = uow.events.add_new(batch, now)
    if stored:
        uow.schedule_deliveries(stored)
    return stored


class EventStore:
    def __init__(self, uow: Callable[[], StoreUnitOfWork], clock: Callable[[], int], retention_days: int):
        self._uow = uow
        self._clock = clock
        self._retention_ms = retention_days * DAY_MS

    def append(self, batch: list[Event]) -> list[StoredEvent]:
        """Stores the events not stored yet; returns only after the commit (the producer deletes
        them from its outbox then)."""
        if len(batch) > MAX_BATCH:
            raise InvalidArgument(f"at most {MAX_BATCH} events at once, got {len(batch)}", field="events")
        for index, event in enumerate(batch):
            event.check(f"events[{index}]")
        with self._uow() as uow:
            stored = store(uow, batch, self._clock())
            uow.commit()
        return stored

    def purge_expired(self) -> int:
        """Deletes the events stored longer ago than the retention, a batch per transaction;
        returns how many."""
        cutoff = self._clock() - self._retention_ms
        return purge_in_batches(self._uow, lambda uow: uow.events.delete_stored_before(cutoff, PURGE_BATCH))


def purge_in_batches(uow: Callable[[], U], delete: Callable[[U], int]) -> int:
    """Runs `delete` (which deletes up to PURGE_BATCH rows and says how many) in one transaction
    after another until it finds fewer: short transactions, as writers wait. Returns how many."""
    purged = 0
    while True:
        unit = uow()
        with unit:
            deleted = delete(unit)
            unit.commit()
        purged += deleted
        if deleted < PURGE_BATCH:
            return purged
