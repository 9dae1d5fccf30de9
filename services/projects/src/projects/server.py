from portal.projects.v1 import projects_pb2, projects_pb2_grpc
from portal_common import db
from portal_common.address_limits import FailureBudget
from portal_common.auth import AuthInterceptor, remote_credentials
from portal_common.errors import ErrorInterceptor
from portal_common.event_bus import start_relay
from portal_common.idempotency import IdempotencyInterceptor, IdempotencyKeys, expired_keys_purge
from portal_common.observability import start_process
from portal_common.outbox import Outbox
from portal_common.server import create_server, serve_forever
from projects.adapters.crm_client import CrmClient
from projects.adapters.tables import idempotency_keys, outbox_events
from projects.api import mapping
from projects.api.servicers import ProjectsServicer
from projects.config import MIGRATIONS, Settings
from projects.queries import ProjectQueries
from projects.service_layer.projects import ProjectsService
from projects.service_layer.unit_of_work import ProjectsUnitOfWork

SERVICE_NAME = projects_pb2.DESCRIPTOR.services_by_name["ProjectsService"].full_name
# Portal users read the projects of their own CRM organization (scoped in projects.queries).
PORTAL_USER_METHODS = frozenset({"ListProjects", "GetProject"})


def new_outbox() -> Outbox:
    """The projects service's outbox of events; the api layer makes their JSON."""
    return Outbox(outbox_events, mapping.event_object)


def build(settings: Settings, address: str, outbox: Outbox | None = None):
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    credentials = remote_credentials(settings)
    database = db.Database(engine)
    # The repository stores each project's read model, which only the api layer can build.
    events = outbox or new_outbox()
    projects = ProjectsService(
        lambda: ProjectsUnitOfWork(database, events, mapping.project_view),
        CrmClient(settings.crm_target, settings.crm_timeout_seconds),
    )
    servicer = ProjectsServicer(projects, ProjectQueries(database))
    return create_server(
        address,
        [(projects_pb2_grpc.add_ProjectsServiceServicer_to_server, servicer, SERVICE_NAME)],
        interceptors=[
            ErrorInterceptor(),
            AuthInterceptor(
                credentials,
                prefixes=(f"/{SERVICE_NAME}/",),
                portal_user_methods=PORTAL_USER_METHODS,
                failures=FailureBudget(settings.auth_failures_per_minute),
            ),
            IdempotencyInterceptor(IdempotencyKeys(database, idempotency_keys), prefixes=(f"/{SERVICE_NAME}/",)),
        ],
        max_workers=settings.grpc_threads,
        reflection=settings.grpc_reflection,
    )


def main() -> None:
    start_process("projects")
    settings = Settings.from_env()
    outbox = new_outbox()
    server, port = build(settings, settings.address, outbox)
    purge = expired_keys_purge(settings.database_url, idempotency_keys).start()
    relay = start_relay(settings, "projects", outbox)
    serve_forever(server, "projects", port, workers=[purge, relay])
