import functools

from auth.adapters.crm_client import CrmClient
from auth.adapters.repositories import SqlAuthUnitOfWork
from auth.adapters.tables import outbox_events
from auth.api import mapping
from auth.api.servicers import (
    CredentialServicer,
    OrganizationInternalServicer,
    OrganizationServicer,
    PortalAuthServicer,
)
from auth.config import MIGRATIONS, Settings
from auth.service_layer.accounts import Accounts
from auth.service_layer.credentials import Credentials
from auth.service_layer.portal_users import PortalUsers
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common import db
from portal_common.address_limits import FailureBudget
from portal_common.auth import AuthInterceptor, CredentialCache, InternalCallerInterceptor
from portal_common.errors import ErrorInterceptor
from portal_common.event_bus import start_relay
from portal_common.observability import start_process
from portal_common.outbox import Outbox
from portal_common.periodic import Periodic
from portal_common.server import create_server, serve_forever

CREDENTIALS = auth_pb2.DESCRIPTOR.services_by_name["CredentialService"].full_name
PORTAL_AUTH = auth_pb2.DESCRIPTOR.services_by_name["PortalAuthService"].full_name
ORGANIZATIONS = auth_pb2.DESCRIPTOR.services_by_name["OrganizationService"].full_name
ORGANIZATIONS_INTERNAL = auth_pb2.DESCRIPTOR.services_by_name["OrganizationInternalService"].full_name


def new_outbox() -> Outbox:
    """The auth service's outbox of events; the api layer makes their JSON."""
    return Outbox(outbox_events, mapping.event_object)


def units_of_work(settings: Settings, outbox: Outbox):
    """Makes the units of work of the service's migrated database (`read_only=True` for reads)."""
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    return functools.partial(SqlAuthUnitOfWork, db.Database(engine), outbox)


def open_accounts(settings: Settings) -> Accounts:
    return Accounts(units_of_work(settings, new_outbox()))


def build(settings: Settings, address: str, outbox: Outbox | None = None):
    uow = units_of_work(settings, outbox or new_outbox())
    accounts = Accounts(uow)
    crm = CrmClient(settings.crm_target, settings.crm_link_timeout_seconds, settings.internal_token)
    credentials = Credentials(uow, crm)
    portal_users = PortalUsers(uow, crm, session_ttl_ms=settings.session_ttl_seconds * 1000)
    Periodic("session purge", settings.session_purge_interval_seconds, portal_users.purge_sessions).start()
    # The auth service owns the credentials: it checks those of its own endpoints in its database
    # on every call, uncached, so that a logout takes effect here at once.
    cache = CredentialCache(credentials.resolve, ttl_seconds=0)
    internal_only = InternalCallerInterceptor(
        settings.internal_token, prefixes=(f"/{CREDENTIALS}/", f"/{ORGANIZATIONS_INTERNAL}/")
    )
    # The organization's profile is the API key holder's: a portal session gets 403.
    sessions_and_keys = AuthInterceptor(
        cache,
        prefixes=(f"/{PORTAL_AUTH}/", f"/{ORGANIZATIONS}/"),
        api_key_methods=frozenset(
            {
                "SyncUser",
                "ListPortalUsers",
                "GetPortalUser",
                "UpdatePortalUser",
                "EndPortalUserSessions",
                "GetOrganization",
                "UpdateOrganization",
            }
        ),
        portal_user_methods=frozenset({"ValidateToken", "GetCurrentUser", "Logout"}),
        failures=FailureBudget(settings.auth_failures_per_minute),
    )
    return create_server(
        address,
        [
            (auth_pb2_grpc.add_CredentialServiceServicer_to_server, CredentialServicer(credentials), CREDENTIALS),
            (auth_pb2_grpc.add_PortalAuthServiceServicer_to_server, PortalAuthServicer(portal_users), PORTAL_AUTH),
            (auth_pb2_grpc.add_OrganizationServiceServicer_to_server, OrganizationServicer(accounts), ORGANIZATIONS),
            (
                auth_pb2_grpc.add_OrganizationInternalServiceServicer_to_server,
                OrganizationInternalServicer(accounts),
                ORGANIZATIONS_INTERNAL,
            ),
        ],
        interceptors=[ErrorInterceptor(), internal_only, sessions_and_keys],
        max_workers=settings.grpc_threads,
        reflection=settings.grpc_reflection,
    )


def main() -> None:
    start_process("auth")
    settings = Settings.from_env()
    outbox = new_outbox()
    server, port = build(settings, settings.address, outbox)
    relay = start_relay(settings, "auth", outbox)
    serve_forever(server, "auth", port, workers=[relay])
