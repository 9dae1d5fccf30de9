"""Webhook endpoints and deliveries on a real database (SQLite, or PostgreSQL with
PORTAL_TEST_DATABASE): deliveries queued in the transaction that stores events, claims that no two
workers share, outcomes written only by the holder, secrets sealed at rest, the disabling
transaction, and the retention purge. Deliveries go to a real local HTTP server."""

import http.server
import json
import os
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from events.adapters.http_delivery import WebhookHttp
from events.adapters.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from events.api.webhooks_mapping import endpoint_object
from events.config import MIGRATIONS
from events.domain.webhooks import (
    DELIVERED,
    DISABLED,
    FAILED,
    GONE,
    MAX_ATTEMPTS_KEPT,
    PENDING,
    Answer,
    Attempt,
    Changes,
)
from events.service_layer.deliveries import HOLD_MS, WebhookSender
from events.service_layer.events import DAY_MS, EventStore
from events.service_layer.webhooks import WebhookEndpoints
from events.service_layer.webhooks_unit_of_work import WebhooksUnitOfWork
from portal_common import db
from portal_common.auth import API_KEY, Principal
from portal_common.sealed_secrets import SecretBox

KEY = Principal(kind=API_KEY, organization_id="org_1", credential_id="key_1")


class Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def engine(databases):
    with databases.migrated_engine("events", MIGRATIONS) as engine:
        yield engine


@pytest.fixture
def clock():
    return Clock(1000 * DAY_MS)


@pytest.fixture
def box():
    return SecretBox(os.urandom(32))


@pytest.fixture
def uow(engine, box):
    database = db.Database(engine)
    return lambda read_only=False: WebhooksUnitOfWork(database, box, read_only)


@pytest.fixture
def store(uow, clock):
    return EventStore(uow, clock, retention_days=30)


@pytest.fixture
def endpoints(uow, clock):
    return WebhookEndpoints(uow, WebhookHttp(True), endpoint_object, clock)


class Receiver:
    def __init__(self):
        self.status = 200
        self.received: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.received.append(
                    {"headers": dict(self.headers), "body": self.rfile.read(int(self.headers["content-length"]))}
                )
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.server.shutdown()
    running.server.server_close()


def sender(uow, clock, name: str = "worker-1") -> WebhookSender:
    return WebhookSender(
        uow, WebhookHttp(True), endpoint_object, name, retry_scale=1.0, clock=clock, spread=lambda: 0.5
    )


def rows(engine, table) -> list:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table)))


def test_storing_events_queues_their_deliveries_in_the_same_transaction(endpoints, store, engine, new_event):
    everything = endpoints.create(KEY, "https://hooks.example.com/all", ["*"], None).endpoint
    paid_only = endpoints.create(KEY, "https://hooks.example.com/paid", ["invoice.paid"], None).endpoint
    endpoints.update(KEY, paid_only.id, Changes(status="disabled"))
    paid, created = new_event(type="invoice.paid"), new_event(type="contact.created")
    other = new_event(type="invoice.paid", organization_id="org_2")
    store.append([paid, created, other])
    queued = {(row.endpoint_id, row.event_id, row.status) for row in rows(engine, webhook_deliveries)}
    assert queued == {(everything.id, paid.id, PENDING), (everything.id, created.id, PENDING)}


def test_signing_secrets_are_sealed_at_rest_and_bound_to_their_endpoint(endpoints, engine, box, uow):
    first = endpoints.create(KEY, "https://hooks.example.com/a", ["*"], None)
    second = endpoints.create(KEY, "https://hooks.example.com/b", ["*"], None)
    stored = {row.id: row for row in rows(engine, webhook_endpoints)}
    row = stored[first.endpoint.id]
    assert first.secret.encode() not in row.secret and first.secret.encode()[6:] not in row.secret
    assert box.open(row.secret, row.id) == first.secret
    with engine.begin() as connection:  # a sealed secret copied onto another row does not open there
        connection.execute(
            webhook_endpoints.update().where(webhook_endpoints.c.id == second.endpoint.id).values(secret=row.secret)
        )
    with pytest.raises(ValueError), uow(read_only=True) as work:
        work.endpoints.get("org_1", second.endpoint.id)


def test_no_two_workers_hold_one_delivery(endpoints, store, uow, clock, new_event, engine):
    endpoints.create(KEY, "https://hooks.example.com/a", ["*"], None)
    store.append([new_event() for _ in range(40)])
    workers = [sender(uow, clock, f"worker-{n}") for n in range(4)]
    claimed: list[list] = [[] for _ in workers]
    barrier = threading.Barrier(len(workers))

    def take(index: int):
        barrier.wait()
        while batch := workers[index].claim(3):
            claimed[index].extend(delivery.id for delivery in batch)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [delivery_id for taken in claimed for delivery_id in taken]
    assert len(every) == len(set(every)) == 40
    assert {row.next_attempt_at for row in rows(engine, webhook_deliveries)} == {clock.now + HOLD_MS}
    # Nothing is due until the claims expire; a restarted worker takes its own back at once.
    assert workers[0].claim(50) == []
    assert workers[1].release() == len(claimed[1])
    assert len(workers[2].claim(50)) == len(claimed[1])


def test_an_attempt_is_sent_signed_and_its_outcome_written_by_the_holder_only(
    endpoints, store, uow, clock, new_event, receiver, engine
):
    endpoint = endpoints.create(KEY, receiver.url, ["*"], None)
    event = new_event()
    store.append([event])
    worker = sender(uow, clock)
    (delivery,) = worker.claim(10)
    worker.send(delivery)
    assert receiver.received[0]["headers"]["webhook-id"] == event.id
    assert receiver.received[0]["body"] == event.payload.encode()
    (row,) = rows(engine, webhook_deliveries)
    assert (row.status, row.claimed_by, row.delivered_at) == (DELIVERED, None, clock.now)
    (attempt,) = rows(engine, webhook_attempts)
    assert attempt.http_status == 200

    # A worker whose claim was taken over writes nothing.
    endpoints.retry(KEY, endpoint.endpoint.id, delivery.id)
    late = sender(uow, clock, "worker-2")
    (again,) = late.claim(10)
    worker.send(delivery)  # worker-1 no longer holds it
    assert len(rows(engine, webhook_attempts)) == 1
    late.send(again)
    assert len(rows(engine, webhook_attempts)) == 2


def test_a_410_disables_the_endpoint_fails_its_pending_deliveries_and_stores_the_event(
    endpoints, store, uow, clock, new_event, receiver, engine
):
    gone = endpoints.create(KEY, receiver.url, ["invoice.paid"], None).endpoint
    watcher = endpoints.create(KEY, "https://hooks.example.com/w", ["webhook_endpoint.disabled"], None).endpoint
    store.append([new_event(), new_event()])
    receiver.status = 410
    worker = sender(uow, clock)
    (first,) = worker.claim(1)
    worker.send(first)

    disabled = endpoints.get(KEY, gone.id)
    assert (disabled.status, disabled.disabled_reason) == (DISABLED, GONE)
    statuses = {row.event_type: set() for row in rows(engine, webhook_deliveries)}
    for row in rows(engine, webhook_deliveries):
        statuses[row.event_type].add((row.endpoint_id, row.status))
    assert statuses["invoice.paid"] == {(gone.id, FAILED)}
    assert statuses["webhook_endpoint.disabled"] == {(watcher.id, PENDING)}
    with uow(read_only=True) as work:
        (delivery,) = work.deliveries.page(watcher.id, "", 10, 0)[0]
        document = json.loads(work.deliveries.payload(delivery.event_id))
    assert document["data"]["object"]["id"] == gone.id and document["data"]["object"]["status"] == "disabled"


def test_a_delivery_keeps_its_latest_attempts(endpoints, store, uow, clock, new_event):
    endpoint = endpoints.create(KEY, "https://hooks.example.com/a", ["*"], None).endpoint
    store.append([new_event()])
    with uow(read_only=True) as work:
        (delivery,) = work.deliveries.page(endpoint.id, "", 10, 0)[0]
    for n in range(MAX_ATTEMPTS_KEPT + 5):
        with uow() as work:
            work.attempts.add(Attempt(delivery.id, n, Answer(500, 1.0, body="no")))
            work.commit()
    (view,) = endpoints.deliveries(KEY, endpoint.id, "", 10, 0).items
    assert [attempt.attempted_at for attempt in view.attempts] == list(range(MAX_ATTEMPTS_KEPT + 4, 4, -1))


def test_recover_queues_again_what_the_endpoint_subscribes_to_since_a_time(endpoints, store, clock, new_event):
    endpoint = endpoints.create(KEY, "https://hooks.example.com/a", ["invoice.paid"], None).endpoint
    early = new_event(created_at=clock.now - 10)
    store.append([early])
    endpoints.update(
        KEY, endpoint.id, Changes(status="disabled")
    )  # the early delivery fails; later events are not queued
    late = [new_event(created_at=clock.now + n) for n in range(3)]
    store.append([*late, new_event(type="contact.created", created_at=clock.now)])
    endpoints.update(KEY, endpoint.id, Changes(status="enabled"))
    recovery = endpoints.recover(KEY, endpoint.id, clock.now - 10)
    assert (recovery.queued, recovery.next_since) == (4, None)
    listed = endpoints.deliveries(KEY, endpoint.id, PENDING, 50, 0)
    assert sorted(view.delivery.event_id for view in listed.items) == sorted([early.id, *(e.id for e in late)])


def test_deliveries_past_the_retention_are_purged_with_their_attempts(endpoints, store, uow, clock, new_event, engine):
    endpoints.create(KEY, "https://hooks.example.com/a", ["*"], None)
    store.append([new_event()])
    worker = sender(uow, clock)
    (delivery,) = worker.claim(1)
    with uow() as work:
        work.attempts.add(Attempt(delivery.id, clock.now, Answer(500, 1.0)))
        work.commit()
    assert worker.purge_expired(30) == 0
    clock.now += 31 * DAY_MS
    assert worker.purge_expired(30) == 1
    assert rows(engine, webhook_deliveries) == [] and rows(engine, webhook_attempts) == []


def test_migration_0002_goes_up_and_down(databases):
    engine = db.create_engine(databases.new_url("events"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    def migrate(step, revision):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    migrate(command.upgrade, "0001")
    assert "webhook_endpoints" not in sa.inspect(engine).get_table_names()
    migrate(command.upgrade, "0002")
    assert {"webhook_endpoints", "webhook_deliveries", "webhook_attempts"} <= set(sa.inspect(engine).get_table_names())
    migrate(command.downgrade, "0001")
    assert not {"webhook_endpoints", "webhook_deliveries", "webhook_attempts"} & set(
        sa.inspect(engine).get_table_names()
    )
    engine.dispose()
