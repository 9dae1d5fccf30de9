"""The ceiling: a CrmService that answers GetContact and ListContacts with constant replies.

No database, no auth, no mapping per request: what is left is the cost of the gateway and of Python gRPC
itself. Built with the services' own bootstrap (portal_common.server: sync server,
ThreadPoolExecutor(16), health, reflection), listening where CRM_GRPC_PORT says, like the real CRM.
The replies have the same shape as the real ones: contacts made by the same generator as the
benchmark data set, turned into messages by the CRM's own mapping once, at start.
"""

import time

import seed

from crm.api.mapping import contact_message
from crm.config import Settings
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal_common.server import create_server, serve_forever

PAGE = 50


class ConstantCrm(crm_pb2_grpc.CrmServiceServicer):
    def __init__(self):
        start_ms = int(time.time() * 1000) - seed.SPAN_MS
        company_ids = {o.name: o.id for o in seed.crm_organizations_of("org_bench", start_ms)}
        contacts = [contact_message(c) for c in seed.make_contacts("org_bench", PAGE, start_ms, company_ids)]
        self._contact = sorted(contacts, key=lambda c: c.ByteSize())[PAGE // 2]  # a contact of median size
        self._page = crm_pb2.ListContactsResponse(contacts=contacts[::-1], total=9_000, limit=PAGE, offset=0)

    def GetContact(self, request, context):
        return self._contact

    def ListContacts(self, request, context):
        return self._page


def main() -> None:
    name = crm_pb2.DESCRIPTOR.services_by_name["CrmService"].full_name
    crm = Settings.from_env()  # the real CRM's address and thread pool: only the handler differs
    server, port = create_server(
        crm.address,
        [(crm_pb2_grpc.add_CrmServiceServicer_to_server, ConstantCrm(), name)],
        max_workers=crm.grpc_threads,
    )
    serve_forever(server, "trivial-crm", port)


if __name__ == "__main__":
    main()
