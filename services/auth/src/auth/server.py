from auth.api.servicers import ApiKeyServicer
from auth.config import MIGRATIONS, Settings
from auth.service_layer.accounts import Accounts
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common import db
from portal_common.errors import ErrorInterceptor
from portal_common.server import create_server, serve_forever


def open_accounts(settings: Settings) -> Accounts:
    """The service's use cases over its migrated database."""
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    return Accounts(db.Database(engine))


def build(settings: Settings, address: str):
    accounts = open_accounts(settings)
    service_name = auth_pb2.DESCRIPTOR.services_by_name["ApiKeyService"].full_name
    return create_server(
        address,
        [(auth_pb2_grpc.add_ApiKeyServiceServicer_to_server, ApiKeyServicer(accounts), service_name)],
        interceptors=[ErrorInterceptor()],
    )


def main() -> None:
    settings = Settings.from_env()
    server, port = build(settings, settings.address)
    serve_forever(server, "auth", port)
