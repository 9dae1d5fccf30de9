"""The relay through NATS JetStream, against a real nats-server of the test's own (a free port, a
store directory of its own), read back with nats-py: what a consumer gets, and that an outbox keeps
its events while the server is down and hands them on once it is back."""

import asyncio
import pathlib
import socket
import subprocess
import time

import pytest
import sqlalchemy as sa

from portal.events.v1 import events_pb2
from portal_common import db
from portal_common.event_bus import STREAM, JetStreamSink, connect, ensure_stream
from portal_common.outbox import Envelope, Outbox, OutboxUnitOfWork, Relay, outbox_events_table
from portal_stack.testing import free_port

NATS_SERVER = pathlib.Path("/usr/sbin/nats-server")

metadata = sa.MetaData()
outbox_events = outbox_events_table(metadata)


class NatsServer:
    """A nats-server with JetStream, which the test stops and starts again on the same port and store."""

    def __init__(self, store: pathlib.Path):
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._store = store
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [str(NATS_SERVER), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self._store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "nats-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=20)
            self._process = None


@pytest.fixture
def nats_server(tmp_path):
    if not NATS_SERVER.exists():
        pytest.fail(f"{NATS_SERVER} is needed for the JetStream tests")
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


async def _stored(url: str) -> list:
    client = await connect(url, "test reader")
    try:
        jetstream = client.jetstream()
        await ensure_stream(jetstream)
        last = (await jetstream.stream_info(STREAM)).state.last_seq
        return [await jetstream.get_msg(STREAM, seq) for seq in range(1, last + 1)]
    finally:
        await client.close()


def stored(url: str) -> list:
    """The stream's messages, oldest first."""
    return asyncio.run(_stored(url))


def envelope(number: int) -> Envelope:
    payload = f'{{"id":"evt_{number:026d}","type":"contact.created","createdAt":1,"data":{{"object":{{}}}}}}'
    return Envelope(f"evt_{number:026d}", "org_a", "contact.created", 1, payload)


def test_a_published_event_is_an_envelope_on_the_services_subject_once_per_id(nats_server):
    sink = JetStreamSink(nats_server.url, "crm")
    try:
        sink.send([envelope(1), envelope(2)])
        sink.send([envelope(2), envelope(3)])  # a relay sending again what it sent: dropped by its id
    finally:
        sink.close()
    messages = stored(nats_server.url)
    assert [m.subject for m in messages] == ["portal.events.crm"] * 3
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [envelope(n).id for n in (1, 2, 3)]
    first = events_pb2.EventEnvelope.FromString(messages[0].data)
    assert (first.id, first.organization_id, first.type, first.created_at, first.payload) == (
        envelope(1).id,
        "org_a",
        "contact.created",
        1,
        envelope(1).payload,
    )


class CountingSink:
    """The real sink, counting the sends that failed (so the test knows the relay tried)."""

    def __init__(self, sink: JetStreamSink):
        self._sink = sink
        self.failures = 0

    def send(self, events: list[Envelope]) -> None:
        try:
            self._sink.send(events)
        except Exception:
            self.failures += 1
            raise

    def close(self) -> None:
        self._sink.close()


class Things(OutboxUnitOfWork):
    def open(self, connection):
        pass


def poll(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.05)


def test_events_wait_in_the_outbox_while_nats_is_down_and_go_once_it_is_back(nats_server, databases):
    engine = db.create_engine(databases.new_url("outbox_nats"))
    metadata.create_all(engine)
    database = db.Database(engine)
    outbox = Outbox(outbox_events, lambda name: {"name": name})

    def record(names) -> list[str]:
        with Things(database, outbox) as uow:
            ids = [uow.events.add("thing.created", "org_a", name) for name in names]
            uow.commit()
        return ids

    def outbox_ids() -> list[str]:
        with database.read() as connection:
            return list(connection.execute(sa.select(outbox_events.c.id).order_by(outbox_events.c.id)).scalars())

    sink = CountingSink(JetStreamSink(nats_server.url, "crm", timeout=2))
    relay = Relay(database, outbox, sink, backoff_seconds=(0.05, 0.5)).start()
    try:
        before = record(["a", "b"])
        poll(lambda: outbox_ids() == [])
        nats_server.stop()
        during = record(["c", "d", "e"])
        poll(lambda: sink.failures >= 2)  # the relay tried, and failed, while NATS was down
        assert outbox_ids() == during  # nothing unacknowledged was deleted
        nats_server.start()
        poll(lambda: outbox_ids() == [])
    finally:
        relay.stop()
        engine.dispose()
    ids = [m.headers["Nats-Msg-Id"] for m in stored(nats_server.url)]
    assert sorted(set(ids)) == sorted(before + during)  # every event, each once
    assert len(ids) == len(set(ids))
