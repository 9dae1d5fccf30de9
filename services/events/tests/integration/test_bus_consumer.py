"""Events through a real NATS JetStream (a nats-server this test starts on a free port) into the
store, as the producers' relays publish them (portal_common.event_bus.JetStreamSink); including a
restart of the NATS server while events flow."""

import asyncio
import dataclasses
import threading
import time

import pytest

from events.api.bus_consumer import DURABLE, BusConsumer
from events.config import MIGRATIONS
from events.queries import EventFeed
from events.service_layer.events import EventStore
from events.service_layer.unit_of_work import EventsUnitOfWork
from portal_common import db
from portal_common.clock import now_ms
from portal_common.event_bus import STREAM, SUBJECT_PREFIX, JetStreamSink, connect, envelope_message
from portal_common.outbox import Envelope


@pytest.fixture
def store_and_feed(databases):
    with databases.migrated_engine("events", MIGRATIONS) as engine:
        database = db.Database(engine)
        yield EventStore(lambda: EventsUnitOfWork(database), now_ms, retention_days=30), EventFeed(database)


def envelope_of(event) -> Envelope:
    return Envelope(**dataclasses.asdict(event))


def stored_ids(feed: EventFeed, organization_id: str = "org_1") -> list[str]:
    found: list[str] = []
    while True:
        page = feed.page(organization_id, found[-1] if found else "", frozenset(), 200)
        found += [p.split('"id":"', 1)[1].split('"', 1)[0] for p in page.payloads]
        if not page.has_more:
            return found


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_published_events_are_stored_once_with_two_consumers(nats_server, store_and_feed, new_event):
    store, feed = store_and_feed
    consumers = [BusConsumer(nats_server.url, store).start() for _ in range(2)]
    sink = JetStreamSink(nats_server.url, "crm")
    try:
        events = [new_event() for _ in range(300)]
        sink.send([envelope_of(e) for e in events[:200]])
        sink.send([envelope_of(e) for e in events[100:]])  # a relay sending rows again
        wait_for(lambda: len(stored_ids(feed)) >= 300)
        assert sorted(stored_ids(feed)) == sorted(e.id for e in events)
    finally:
        sink.close()
        for consumer in consumers:
            consumer.stop()


def test_a_message_that_is_no_event_is_dropped_and_the_rest_stored(nats_server, store_and_feed, new_event):
    store, feed = store_and_feed
    consumer = BusConsumer(nats_server.url, store).start()
    sink = JetStreamSink(nats_server.url, "crm")
    try:
        first, last = new_event(), new_event()
        sink.send([envelope_of(first)])

        async def publish_garbage() -> None:
            client = await connect(nats_server.url, "test")
            jetstream = client.jetstream()
            await jetstream.publish(f"{SUBJECT_PREFIX}.crm", b"\xff not a protobuf")
            await jetstream.publish(
                f"{SUBJECT_PREFIX}.crm",
                envelope_message(envelope_of(dataclasses.replace(new_event(), type="Not A Type"))).SerializeToString(),
            )
            await client.close()

        asyncio.run(publish_garbage())
        sink.send([envelope_of(last)])
        wait_for(lambda: stored_ids(feed) == [first.id, last.id])
    finally:
        sink.close()
        consumer.stop()


def test_events_keep_flowing_across_a_restart_of_the_nats_server(nats_server, store_and_feed, new_event):
    """A producer publishes steadily (retrying what failed, as the relay does) while the NATS server
    is stopped and started again on its storage: every event is stored, once."""
    store, feed = store_and_feed
    consumer = BusConsumer(nats_server.url, store).start()
    sink = JetStreamSink(nats_server.url, "invoicing", timeout=2)
    published: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            batch = [new_event() for _ in range(5)]
            while True:  # the relay keeps the rows until the sink took them
                try:
                    sink.send([envelope_of(e) for e in batch])
                    break
                except Exception:
                    time.sleep(0.1)
            published.extend(e.id for e in batch)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_for(lambda: len(stored_ids(feed)) >= 50)
        nats_server.stop()
        nats_server.start()
        before = len(published)
        wait_for(lambda: len(published) >= before + 50)  # publishing works again after the restart
    finally:
        stop.set()
        producer.join()
    try:
        wait_for(lambda: len(stored_ids(feed)) >= len(published))
        assert sorted(stored_ids(feed)) == sorted(published)
    finally:
        sink.close()
        consumer.stop()


def test_a_consumer_deleted_on_the_server_is_made_again(nats_server, store_and_feed, new_event):
    store, feed = store_and_feed
    consumer = BusConsumer(nats_server.url, store).start()
    sink = JetStreamSink(nats_server.url, "projects")
    try:
        first, second = new_event(), new_event()
        sink.send([envelope_of(first)])
        wait_for(lambda: stored_ids(feed) == [first.id])

        async def delete_consumer() -> None:
            client = await connect(nats_server.url, "test")
            await client.jetstream().delete_consumer(STREAM, DURABLE)
            await client.close()

        asyncio.run(delete_consumer())
        sink.send([envelope_of(second)])
        wait_for(lambda: stored_ids(feed) == [first.id, second.id])
    finally:
        sink.close()
        consumer.stop()
