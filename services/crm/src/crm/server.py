from crm.adapters.tables import idempotency_keys, outbox_events
from crm.api import mapping
from crm.api.servicers import CrmInternalServicer, CrmServicer
from crm.config import MIGRATIONS, Settings
from crm.queries import CrmQueries
from crm.service_layer.contacts import CrmService
from crm.service_layer.unit_of_work import CrmUnitOfWork
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common import db
from portal_common.address_limits import FailureBudget
from portal_common.auth import AuthInterceptor, InternalCallerInterceptor, remote_credentials
from portal_common.errors import ErrorInterceptor
from portal_common.event_bus import start_relay
from portal_common.idempotency import IdempotencyInterceptor, IdempotencyKeys, expired_keys_purge
from portal_common.observability import start_process
from portal_common.outbox import Outbox
from portal_common.server import create_server, serve_forever

SERVICE_NAME = crm_pb2.DESCRIPTOR.services_by_name["CrmService"].full_name
INTERNAL_SERVICE_NAME = crm_pb2.DESCRIPTOR.services_by_name["CrmInternalService"].full_name


def new_outbox() -> Outbox:
    """The CRM's outbox of events; the api layer makes their JSON."""
    return Outbox(outbox_events, mapping.event_object)


def build(settings: Settings, address: str, outbox: Outbox | None = None):
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    database = db.Database(engine)
    events = outbox or new_outbox()
    # The repository stores each contact's read model as the api serializes it (dependency inversion:
    # adapters never import protobuf).
    crm = CrmService(lambda: CrmUnitOfWork(database, events, mapping.contact_view))
    queries = CrmQueries(database)
    return create_server(
        address,
        [
            (crm_pb2_grpc.add_CrmServiceServicer_to_server, CrmServicer(crm, queries), SERVICE_NAME),
            (
                crm_pb2_grpc.add_CrmInternalServiceServicer_to_server,
                CrmInternalServicer(queries),
                INTERNAL_SERVICE_NAME,
            ),
        ],
        interceptors=[
            ErrorInterceptor(),
            InternalCallerInterceptor(settings.internal_token, prefixes=(f"/{INTERNAL_SERVICE_NAME}/",)),
            AuthInterceptor(
                remote_credentials(settings),
                prefixes=(f"/{SERVICE_NAME}/",),
                portal_user_methods=frozenset({"GetContact"}),
                failures=FailureBudget(settings.auth_failures_per_minute),
            ),
            IdempotencyInterceptor(IdempotencyKeys(database, idempotency_keys), prefixes=(f"/{SERVICE_NAME}/",)),
        ],
        max_workers=settings.grpc_threads,
        reflection=settings.grpc_reflection,
    )


def main() -> None:
    start_process("crm")
    settings = Settings.from_env()
    outbox = new_outbox()
    server, port = build(settings, settings.address, outbox)
    purge = expired_keys_purge(settings.database_url, idempotency_keys).start()
    relay = start_relay(settings, "crm", outbox)
    serve_forever(server, "crm", port, workers=[purge, relay])
