import functools
import socket
from typing import Callable

from events.adapters.http_delivery import WebhookHttp
from events.adapters.tables import idempotency_keys
from events.adapters.webhook_repository import deliveries_waiting
from events.api import webhooks_mapping
from events.api.bus_consumer import BusConsumer
from events.api.servicers import EventsInternalServicer, EventsServicer
from events.api.webhooks import WebhookEndpointsServicer
from events.config import MIGRATIONS, Settings
from events.queries import EventFeed
from events.service_layer.deliveries import DeliveryWorker, WebhookSender
from events.service_layer.events import MAX_BATCH_BYTES, EventStore
from events.service_layer.webhooks import WebhookEndpoints
from events.service_layer.webhooks_unit_of_work import WebhooksUnitOfWork
from portal.events.v1 import events_pb2, events_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc
from portal_common import db, metrics
from portal_common.address_limits import FailureBudget
from portal_common.auth import AuthInterceptor, InternalCallerInterceptor, remote_credentials
from portal_common.clock import now_ms
from portal_common.errors import ErrorInterceptor
from portal_common.idempotency import IdempotencyInterceptor, IdempotencyKeys, expired_keys_purge
from portal_common.observability import start_process
from portal_common.periodic import Periodic
from portal_common.sealed_secrets import SecretBox
from portal_common.server import Worker, create_server, serve_forever

SERVICE_NAME = events_pb2.DESCRIPTOR.services_by_name["EventsService"].full_name
INTERNAL_SERVICE_NAME = events_pb2.DESCRIPTOR.services_by_name["EventsInternalService"].full_name
WEBHOOKS_SERVICE_NAME = webhooks_pb2.DESCRIPTOR.services_by_name["WebhookEndpointsService"].full_name


def open_store(settings: Settings) -> tuple[db.Database, EventStore]:
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    database = db.Database(engine)
    # Events are stored with their webhook deliveries queued (service_layer/deliveries.py).
    return database, EventStore(webhooks_uow(settings, database), now_ms, settings.retention_days)


def webhooks_uow(settings: Settings, database: db.Database) -> Callable[..., WebhooksUnitOfWork]:
    """Units of work on the event store with the webhook endpoints and deliveries in them."""
    box = SecretBox(settings.secrets_key)
    return lambda read_only=False: WebhooksUnitOfWork(database, box, read_only)


def open_webhooks(settings: Settings, database: db.Database) -> WebhookEndpointsServicer:
    targets = WebhookHttp(settings.webhook_allow_private_targets)
    return WebhookEndpointsServicer(
        WebhookEndpoints(webhooks_uow(settings, database), targets, webhooks_mapping.endpoint_object)
    )


def delivery_worker(settings: Settings, database: db.Database) -> DeliveryWorker:
    """The webhook deliveries' worker. Its name is unique among the processes running at once and
    the same after a restart (its listening address): a restarted process takes back its claims."""
    sender = WebhookSender(
        webhooks_uow(settings, database),
        WebhookHttp(settings.webhook_allow_private_targets),
        webhooks_mapping.endpoint_object,
        f"{socket.gethostname()}/{settings.address}",
        settings.retry_scale,
    )
    return DeliveryWorker(sender, settings.webhook_threads)


def build(settings: Settings, address: str, database: db.Database, store: EventStore):
    # The services that take the organization's API key (portal sessions are refused: 403).
    public = (SERVICE_NAME, WEBHOOKS_SERVICE_NAME)
    return create_server(
        address,
        [
            (events_pb2_grpc.add_EventsServiceServicer_to_server, EventsServicer(EventFeed(database)), SERVICE_NAME),
            (
                events_pb2_grpc.add_EventsInternalServiceServicer_to_server,
                EventsInternalServicer(store),
                INTERNAL_SERVICE_NAME,
            ),
            (
                webhooks_pb2_grpc.add_WebhookEndpointsServiceServicer_to_server,
                open_webhooks(settings, database),
                WEBHOOKS_SERVICE_NAME,
            ),
        ],
        interceptors=[
            ErrorInterceptor(),
            InternalCallerInterceptor(settings.internal_token, prefixes=(f"/{INTERNAL_SERVICE_NAME}/",)),
            AuthInterceptor(
                remote_credentials(settings),
                prefixes=tuple(f"/{name}/" for name in public),
                failures=FailureBudget(settings.auth_failures_per_minute),
            ),
            # Every POST of the webhook endpoints takes an Idempotency-Key (docs/idempotency.md).
            IdempotencyInterceptor(
                IdempotencyKeys(database, idempotency_keys), prefixes=(f"/{WEBHOOKS_SERVICE_NAME}/",)
            ),
        ],
        max_workers=settings.grpc_threads,
        reflection=settings.grpc_reflection,
        max_request_bytes=MAX_BATCH_BYTES,  # AppendEvents' batches
    )


def main() -> None:
    start_process("events")
    settings = Settings.from_env()
    database, store = open_store(settings)
    server, port = build(settings, settings.address, database, store)
    events_purge = Periodic("expired events purge", settings.purge_interval_seconds, store.purge_expired).start()
    worker = delivery_worker(settings, database).start()  # sends the webhook deliveries
    metrics.watch(
        "portal_webhook_deliveries_waiting",
        f"Webhook deliveries not yet delivered nor given up (counted up to {metrics.QUEUE_COUNT_LIMIT})",
        lambda: deliveries_waiting(database, metrics.QUEUE_COUNT_LIMIT),
    )
    purge = functools.partial(worker.sender.purge_expired, settings.retention_days)
    deliveries_purge = Periodic("expired deliveries purge", settings.purge_interval_seconds, purge).start()
    workers: list[Worker] = [
        events_purge,
        worker,
        deliveries_purge,
        expired_keys_purge(settings.database_url, idempotency_keys).start(),
    ]
    if settings.event_bus_url:  # the producers publish to NATS JetStream: take their events from there
        workers.append(BusConsumer(settings.event_bus_url, store).start())
    serve_forever(server, "events", port, workers)
