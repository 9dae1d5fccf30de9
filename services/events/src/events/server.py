from events.api.bus_consumer import BusConsumer
from events.api.servicers import EventsInternalServicer, EventsServicer
from events.config import MIGRATIONS, Settings
from events.queries import EventFeed
from events.service_layer.events import EventStore
from events.service_layer.unit_of_work import EventsUnitOfWork
from portal.events.v1 import events_pb2, events_pb2_grpc
from portal_common import db
from portal_common.address_limits import FailureBudget
from portal_common.auth import AuthInterceptor, InternalCallerInterceptor, remote_credentials
from portal_common.clock import now_ms
from portal_common.errors import ErrorInterceptor
from portal_common.periodic import Periodic
from portal_common.server import create_server, serve_forever

SERVICE_NAME = events_pb2.DESCRIPTOR.services_by_name["EventsService"].full_name
INTERNAL_SERVICE_NAME = events_pb2.DESCRIPTOR.services_by_name["EventsInternalService"].full_name


def open_store(settings: Settings) -> tuple[db.Database, EventStore]:
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    database = db.Database(engine)
    return database, EventStore(lambda: EventsUnitOfWork(database), now_ms, settings.retention_days)


def build(settings: Settings, address: str, database: db.Database, store: EventStore):
    # The services that take the organization's API key (portal sessions are refused: 403).
    public = (SERVICE_NAME,)
    return create_server(
        address,
        [
            (events_pb2_grpc.add_EventsServiceServicer_to_server, EventsServicer(EventFeed(database)), SERVICE_NAME),
            (
                events_pb2_grpc.add_EventsInternalServiceServicer_to_server,
                EventsInternalServicer(store),
                INTERNAL_SERVICE_NAME,
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
        ],
        max_workers=settings.grpc_threads,
        reflection=settings.grpc_reflection,
    )


def main() -> None:
    settings = Settings.from_env()
    database, store = open_store(settings)
    server, port = build(settings, settings.address, database, store)
    Periodic("expired events purge", settings.purge_interval_seconds, store.purge_expired).start()
    if settings.event_bus_url:  # the producers publish to NATS JetStream: take their events from there
        BusConsumer(settings.event_bus_url, store).start()
    serve_forever(server, "events", port)
