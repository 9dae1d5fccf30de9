"""The transactional outbox of events, and the relay that empties it (docs/events.md).

A use case records an event through its unit of work (`uow.events.add("invoice.paid",
organization_id, invoice)`): the event, as the JSON object clients read (`{"id", "type",
"createdAt", "data": {"object": ...}}`), becomes a row of the service's `outbox_events` table in
the transaction of the change it describes. So an event exists exactly when its change was
committed. The JSON of a domain object is made by a function the service's api/ layer gives (the
use cases and the domain never see protobuf).

The relay, a thread in each process of the service, hands the rows, oldest first, to a sink (the
events service, or NATS JetStream: portal_common.event_bus) and deletes them once the sink has
acknowledged them. It wakes when this process committed events, and otherwise looks every
POLL_SECONDS for those other processes committed. Relays of several processes may send the same
rows: events are stored once by id downstream, so a duplicate costs a little work and loses
nothing, and a row is deleted only after it was acknowledged.
"""

import dataclasses
import json
import logging
import threading
from typing import Any, Callable, Protocol, Self

import sqlalchemy as sa

from portal_common.clock import now_ms
from portal_common.db import Database, count_up_to
from portal_common.ids import _CROCKFORD, new_id
from portal_common.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

BATCH = 500  # rows the relay hands to the sink at once
# ... and at most this many bytes of events (but at least one event), within what one gRPC message
# (4 MB) and one NATS message (1 MB) may carry: a batch too big to send would block the outbox.
BATCH_BYTES = 512 * 1024
POLL_SECONDS = 1.0  # how often a relay looks for the events other processes committed
BACKOFF_SECONDS = (0.1, 5.0)  # the relay's wait after a failure: the first, doubling up to the last

# A domain object (or a pair of them, for events that carry two) as the API's JSON object.
ToJson = Callable[[Any], dict[str, Any]]


def _columns_v1() -> list[sa.Column]:
    """The table's columns as first released (create_table_v1 must keep creating these)."""
    return [
        sa.Column("id", sa.String(40), primary_key=True),  # evt_<ULID>: sorts by time
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        # The whole event as clients read it: compact JSON, UTF-8.
        sa.Column("payload", sa.Text, nullable=False),
    ]


def outbox_events_table(metadata: sa.MetaData) -> sa.Table:
    """The `outbox_events` table in a service's metadata (its migrations create the same)."""
    return sa.Table("outbox_events", metadata, *_columns_v1())


def create_table_v1(op) -> None:
    """The migration step that creates `outbox_events` as first released (`op` is alembic.op). It
    is history: a later change of the table is a new step here, never a change of this one."""
    op.create_table("outbox_events", *_columns_v1())


@dataclasses.dataclass(frozen=True)
class Envelope:
    """An event as it travels from an outbox to the events service: the event's JSON (`payload`)
    and, beside it, what the store files it under."""

    id: str
    organization_id: str
    type: str
    created_at: int
    payload: str


class EventRecorder(Protocol):
    """What use cases record events through (`uow.events`)."""

    def add(self, type: str, organization_id: str, obj: Any, **related: Any) -> str:
        """Records a `type` event of `organization_id` about `obj` (its `data.object`); `related`
        objects go beside it in `data` under their names. Returns the event's id."""
        ...


class _EventIds:
    """Event ids that increase within the process, also within one millisecond (where a ULID's
    random part would order them by chance): the events of one transaction keep their order."""

    def __init__(self) -> None:
        self._last = ""
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            event_id = new_id("evt")
            if event_id <= self._last:
                event_id = _successor(self._last)
            self._last = event_id
            return event_id


def _successor(event_id: str) -> str:
    prefix, ulid = event_id.split("_")
    digits = [_CROCKFORD.index(c) for c in ulid]
    for i in reversed(range(len(digits))):
        digits[i] = (digits[i] + 1) % 32
        if digits[i]:
            break
    return f"{prefix}_{''.join(_CROCKFORD[d] for d in digits)}"


class Outbox:
    """A service's outbox: its table, how its domain objects become JSON, and the signal that wakes
    its relay in this process (`written`, set after a commit that recorded events)."""

    def __init__(self, table: sa.Table, to_json: ToJson, clock: Callable[[], int] = now_ms):
        self.table = table
        self._to_json = to_json
        self._clock = clock
        self._ids = _EventIds()
        self.written = threading.Event()

    def envelope(self, type: str, organization_id: str, obj: Any, related: dict[str, Any]) -> Envelope:
        event_id, created_at = self._ids.next(), self._clock()
        data = {"object": self._to_json(obj), **{name: self._to_json(value) for name, value in related.items()}}
        event = {"id": event_id, "type": type, "createdAt": created_at, "data": data}
        payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        return Envelope(event_id, organization_id, type, created_at, payload)


class SqlEventRecorder:
    """Writes events into the outbox on the connection of a unit of work."""

    def __init__(self, connection: sa.Connection, outbox: Outbox):
        self._connection = connection
        self._outbox = outbox
        self.recorded = 0

    def add(self, type: str, organization_id: str, obj: Any, **related: Any) -> str:
        envelope = self._outbox.envelope(type, organization_id, obj, related)
        self._connection.execute(self._outbox.table.insert().values(**dataclasses.asdict(envelope)))
        self.recorded += 1
        return envelope.id


class OutboxUnitOfWork(SqlUnitOfWork):
    """A unit of work whose `events` go into the service's outbox in its transaction; once they are
    committed, this process's relay is woken."""

    events: SqlEventRecorder

    def __init__(self, database: Database, outbox: Outbox, read_only: bool = False):
        super().__init__(database, read_only)
        self._outbox = outbox

    def __enter__(self) -> Self:
        super().__enter__()
        self.events = SqlEventRecorder(self._open_connection(), self._outbox)
        return self

    def commit(self) -> None:
        super().commit()
        if self.events.recorded:
            self._outbox.written.set()


@dataclasses.dataclass(frozen=True)
class RecordedEvent:
    type: str
    organization_id: str
    obj: Any
    related: dict[str, Any]


class MemoryEvents:
    """Events recorded in memory: the `events` of the fake units of work of use-case tests."""

    def __init__(self) -> None:
        self.added: list[RecordedEvent] = []

    def add(self, type: str, organization_id: str, obj: Any, **related: Any) -> str:
        self.added.append(RecordedEvent(type, organization_id, obj, related))
        return f"evt_{len(self.added)}"


def changed(before: Any, after: Any, ignoring: tuple[str, ...] = ("updated_at",)) -> bool:
    """Whether a domain object (a dataclass) changed, apart from `ignoring`: a write that changes
    nothing else records no event."""
    return dataclasses.replace(before, **dict.fromkeys(ignoring)) != dataclasses.replace(
        after, **dict.fromkeys(ignoring)
    )


class Sink(Protocol):
    """Where the relay hands events."""

    def send(self, events: list[Envelope]) -> None:
        """Returns once every event is stored downstream (duplicates by id are ignored there);
        raises when that is not known."""
        ...

    def close(self) -> None: ...


class _RelayUnitOfWork(SqlUnitOfWork):
    def open(self, connection: sa.Connection) -> None:
        self.rows = connection


class Relay:
    """Moves a service's outbox to `sink`, on a daemon thread (`start`, `stop`), or a batch at a
    time (`relay_once`)."""

    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        sink: Sink,
        poll_seconds: float = POLL_SECONDS,
        batch: int = BATCH,
        backoff_seconds: tuple[float, float] = BACKOFF_SECONDS,
        batch_bytes: int = BATCH_BYTES,
    ):
        self._database = database
        self._outbox = outbox
        self._sink = sink
        self._poll = poll_seconds
        self.batch = batch
        self._batch_bytes = batch_bytes
        self._backoff = backoff_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event relay", daemon=True)

    def relay_once(self) -> int:
        """Hands the oldest batch of the outbox to the sink, then deletes it; how many there were.
        When the sink fails, the rows stay for the next try."""
        table = self._outbox.table
        with _RelayUnitOfWork(self._database, read_only=True) as uow:
            rows = uow.rows.execute(sa.select(table).order_by(table.c.id).limit(self.batch)).all()
        events: list[Envelope] = []
        size = 0
        for row in rows:
            size += len(row.payload.encode())
            if events and size > self._batch_bytes:
                break
            events.append(Envelope(**row._mapping))
        if not events:
            return 0
        self._sink.send(events)
        with _RelayUnitOfWork(self._database) as uow:
            uow.rows.execute(table.delete().where(table.c.id.in_([event.id for event in events])))
            uow.commit()
        return len(events)

    def waiting(self, limit: int) -> int:
        """How many events wait in the outbox, counted up to `limit`."""
        with _RelayUnitOfWork(self._database, read_only=True) as uow:
            return count_up_to(uow.rows, sa.select(self._outbox.table.c.id), limit)

    def oldest_created_at(self) -> int | None:
        """When the oldest event waiting was recorded (epoch ms), by the primary key's index (event
        ids sort by time); None when the outbox is empty."""
        table = self._outbox.table
        with _RelayUnitOfWork(self._database, read_only=True) as uow:
            return uow.rows.execute(sa.select(table.c.created_at).order_by(table.c.id).limit(1)).scalar()

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._outbox.written.set()
        self._thread.join()
        self._sink.close()

    def _run(self) -> None:
        first, longest = self._backoff
        backoff = first
        while not self._stopped.is_set():
            self._outbox.written.clear()  # before looking: events committed from here on wake the wait
            try:
                while self.relay_once() and not self._stopped.is_set():
                    pass  # until the outbox is empty
            except Exception as error:
                log.warning("relaying events failed (%s); trying again in %.1f s", error, backoff)
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, longest)
                continue
            backoff = first
            self._outbox.written.wait(self._poll)
