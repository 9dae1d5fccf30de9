from crm.api.servicers import CrmServicer
from crm.config import MIGRATIONS, Settings
from crm.service_layer.contacts import CrmService
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common import db
from portal_common.auth import AuthInterceptor, remote_credentials
from portal_common.errors import ErrorInterceptor
from portal_common.server import create_server, serve_forever

SERVICE_NAME = crm_pb2.DESCRIPTOR.services_by_name["CrmService"].full_name


def build(settings: Settings, address: str):
    engine = db.create_engine(settings.database_url)
    db.migrate(engine, MIGRATIONS)
    credentials = remote_credentials(settings)
    return create_server(
        address,
        [(crm_pb2_grpc.add_CrmServiceServicer_to_server, CrmServicer(CrmService(db.Database(engine))),
          SERVICE_NAME)],
        interceptors=[ErrorInterceptor(), AuthInterceptor(
            credentials, prefixes=(f"/{SERVICE_NAME}/",), portal_user_methods=frozenset({"GetContact"}))],
        max_workers=settings.grpc_threads, reflection=settings.grpc_reflection,
    )


def main() -> None:
    settings = Settings.from_env()
    server, port = build(settings, settings.address)
    serve_forever(server, "crm", port)
