"""The outbox on a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE): events are rows of
the change's transaction, and the relay deletes only what its sink acknowledged."""

import dataclasses
import json
import threading
import time

import pytest
import sqlalchemy as sa

from portal.crm.v1 import crm_pb2
from portal.invoicing.v1 import invoicing_pb2
from portal_common import db
from portal_common.event_json import message_object
from portal_common.outbox import Envelope, Outbox, OutboxUnitOfWork, Relay, changed, outbox_events_table

metadata = sa.MetaData()
outbox_events = outbox_events_table(metadata)
things = sa.Table("things", metadata, sa.Column("name", sa.String(20), primary_key=True))


@dataclasses.dataclass
class Thing:
    name: str
    size: float = 1.0
    updated_at: int = 0


class ThingsUnitOfWork(OutboxUnitOfWork):
    def open(self, connection):
        self.things = connection


def thing_json(thing: Thing) -> dict:
    return {"name": thing.name, "size": thing.size}


@pytest.fixture
def database(databases):
    engine = db.create_engine(databases.new_url("outbox"))
    metadata.create_all(engine)
    yield db.Database(engine)
    engine.dispose()


@pytest.fixture
def outbox():
    return Outbox(outbox_events, thing_json, clock=lambda: 1_700_000_000_000)


def rows(database) -> list:
    with database.read() as connection:
        return connection.execute(sa.select(outbox_events).order_by(outbox_events.c.id)).all()


def make(database, outbox, name: str, commit: bool = True, **related) -> str:
    with ThingsUnitOfWork(database, outbox) as uow:
        uow.things.execute(things.insert().values(name=name))
        event_id = uow.events.add("thing.created", "org_a", Thing(name), **related)
        if commit:
            uow.commit()
    return event_id


def test_an_event_is_a_row_of_the_committed_transaction_with_the_event_json(database, outbox):
    event_id = make(database, outbox, "a", owner=Thing("b", size=2.5))
    [row] = rows(database)
    assert (row.id, row.organization_id, row.type, row.created_at) == (
        event_id,
        "org_a",
        "thing.created",
        1_700_000_000_000,
    )
    assert event_id.startswith("evt_") and len(event_id) == 30
    assert json.loads(row.payload) == {
        "id": event_id,
        "type": "thing.created",
        "createdAt": 1_700_000_000_000,
        "data": {"object": {"name": "a", "size": 1.0}, "owner": {"name": "b", "size": 2.5}},
    }
    assert outbox.written.is_set()  # the relay of this process is woken


def test_a_change_rolled_back_leaves_no_event_and_wakes_no_relay(database, outbox):
    make(database, outbox, "a", commit=False)
    with pytest.raises(ZeroDivisionError):
        with ThingsUnitOfWork(database, outbox) as uow:
            uow.events.add("thing.created", "org_a", Thing("b"))
            raise ZeroDivisionError("a bug after the event was recorded")
    assert rows(database) == []
    assert not outbox.written.is_set()


def test_the_events_of_one_process_keep_the_order_they_were_recorded_in(database, outbox):
    with ThingsUnitOfWork(database, outbox) as uow:
        recorded = [uow.events.add("thing.created", "org_a", Thing(f"t{i}")) for i in range(200)]
        uow.commit()
    assert [row.id for row in rows(database)] == recorded  # within one millisecond too


class RecordingSink:
    def __init__(self, failures: int = 0, during_send=None):
        self.sent: list[Envelope] = []
        self.failures = failures
        self.during_send = during_send
        self.closed = False

    def send(self, events: list[Envelope]) -> None:
        if self.during_send:
            self.during_send()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the sink is down")
        self.sent.extend(events)

    def close(self) -> None:
        self.closed = True


def test_the_relay_hands_the_oldest_batch_on_and_deletes_only_what_was_acknowledged(database, outbox):
    ids = [make(database, outbox, f"t{i}") for i in range(5)]
    stored = {row.id: Envelope(**row._mapping) for row in rows(database)}
    late: list[str] = []
    # A change commits while the sink holds the batch: its event is not in the batch, and stays.
    sink = RecordingSink(during_send=lambda: late.append(make(database, outbox, f"late{len(late)}")))
    relay = Relay(database, outbox, sink, batch=3)
    assert relay.relay_once() == 3
    assert sink.sent == [stored[event_id] for event_id in ids[:3]]
    assert [row.id for row in rows(database)] == ids[3:] + late


def test_a_batch_holds_at_most_its_bytes_but_always_one_event(database, outbox):
    ids = [make(database, outbox, f"same size {i}") for i in range(4)]
    size = len(rows(database)[0].payload.encode())
    sink = RecordingSink()
    relay = Relay(database, outbox, sink, batch_bytes=2 * size + 1)
    assert [relay.relay_once(), relay.relay_once()] == [2, 2]
    assert Relay(database, outbox, sink, batch_bytes=1).relay_once() == 0  # nothing left
    make(database, outbox, "y")
    assert Relay(database, outbox, sink, batch_bytes=1).relay_once() == 1  # one event, however big
    assert [e.id for e in sink.sent][:4] == ids


def test_a_failing_sink_leaves_the_rows_for_the_next_try(database, outbox):
    ids = [make(database, outbox, f"t{i}") for i in range(3)]
    relay = Relay(database, outbox, RecordingSink(failures=1))
    with pytest.raises(ConnectionError):
        relay.relay_once()
    assert [row.id for row in rows(database)] == ids
    assert relay.relay_once() == 3
    assert rows(database) == []


def test_the_backlog_its_bounded_count_and_its_oldest_event_for_the_metrics(database):
    stamps = iter([1_700_000_001_000, 1_700_000_002_000, 1_700_000_003_000])
    outbox = Outbox(outbox_events, thing_json, clock=lambda: next(stamps))
    relay = Relay(database, outbox, RecordingSink(failures=1))
    assert (relay.waiting(100), relay.oldest_created_at()) == (0, None)
    for name in ("a", "b", "c"):
        make(database, outbox, name)
    with pytest.raises(ConnectionError):
        relay.relay_once()
    assert (relay.waiting(100), relay.waiting(2), relay.oldest_created_at()) == (3, 2, 1_700_000_001_000)
    assert relay.relay_once() == 3
    assert (relay.waiting(100), relay.oldest_created_at()) == (0, None)


def poll(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.02)


def test_the_relay_thread_backs_off_while_the_sink_fails_then_empties_the_outbox(database, outbox):
    first = make(database, outbox, "a")
    sink = RecordingSink(failures=3)
    relay = Relay(database, outbox, sink, poll_seconds=60, backoff_seconds=(0.01, 0.05)).start()
    try:
        poll(lambda: rows(database) == [])
        # Woken by the commit (its poll is a minute): a new event goes on at once.
        second = make(database, outbox, "b")
        poll(lambda: rows(database) == [] and len(sink.sent) == 2)
        assert [e.id for e in sink.sent] == [first, second]
    finally:
        relay.stop()
    assert sink.closed


def test_a_relay_in_another_process_finds_the_events_by_polling(database, outbox):
    elsewhere = Outbox(outbox_events, thing_json)  # another process's: its commits wake only its relay
    sink = RecordingSink()
    relay = Relay(database, outbox, sink, poll_seconds=0.05).start()
    try:
        event_id = make(database, elsewhere, "a")
        poll(lambda: [e.id for e in sink.sent] == [event_id])
    finally:
        relay.stop()


def test_two_relays_on_one_outbox_lose_nothing(database, outbox):
    ids = {make(database, outbox, f"t{i}") for i in range(40)}
    sinks = [RecordingSink(), RecordingSink()]
    relays = [Relay(database, outbox, sink, batch=7) for sink in sinks]
    threads = [threading.Thread(target=lambda r=r: [r.relay_once() for _ in range(8)]) for r in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {e.id for sink in sinks for e in sink.sent} == ids  # duplicates allowed, losses not
    assert rows(database) == []


def test_changed_ignores_only_updated_at():
    assert not changed(Thing("a", updated_at=1), Thing("a", updated_at=2))
    assert changed(Thing("a", updated_at=1), Thing("a", size=2.0, updated_at=1))


def test_message_object_prints_as_the_gateway_does():
    invoice = invoicing_pb2.Invoice(id="inv_1", created_at=1_700_000_000_000.0)
    invoice.custom_properties.total_amount_in_cents = 1500
    invoice.custom_properties.line_items.add(quantity=1.5, unit_price_in_cents=1000)
    printed = message_object(invoice)
    assert printed["_id"] == "inv_1"  # json_name
    assert printed["createdAt"] == 1_700_000_000_000 and isinstance(printed["createdAt"], int)
    assert printed["customProperties"]["totalAmountInCents"] == 1500
    assert printed["customProperties"]["lineItems"][0]["quantity"] == 1.5
    assert printed["status"] == ""  # fields without presence print with their defaults
    contact = message_object(crm_pb2.Contact(id="ct_1"))
    assert contact["tags"] == [] and "phone" not in contact  # unset optional fields are left out
