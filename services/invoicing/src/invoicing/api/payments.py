"""The PaymentsService servicer: request → use case → answer (payments_mapping.py)."""

from invoicing.api import payments_mapping as mapping
from invoicing.service_layer.payments import PaymentsService
from portal.invoicing.v1 import payments_pb2 as pb
from portal.invoicing.v1 import payments_pb2_grpc
from portal_common.auth import current_principal
from portal_common.clock import now_ms
from portal_common.errors import http_status_metadata
from portal_common.json_body import client_paths, given, read_message
from portal_common.pagination import page_bounds

# Called by payment providers, without an API key: the token and the signature prove the caller.
PUBLIC_METHODS = frozenset({"ReceivePaymentWebhook"})


class PaymentsServicer(payments_pb2_grpc.PaymentsServiceServicer):
    def __init__(self, payments: PaymentsService):
        self.payments = payments

    def CreatePaymentConnection(self, request, context):
        body = read_message(request.body, pb.PaymentConnectionInput)
        with client_paths(body.DESCRIPTOR):
            revealed = self.payments.create_connection(
                current_principal(), given(body, "provider"), given(body, "signing_secret")
            )
        context.send_initial_metadata((http_status_metadata(201),))
        return mapping.revealed_message(revealed, now_ms())

    def ListPaymentConnections(self, request, context):
        limit, offset = page_bounds(request)
        listing = self.payments.list_connections(current_principal(), limit, offset)
        return mapping.connection_page(listing, limit, offset, now_ms())

    def DeletePaymentConnection(self, request, context):
        connection = self.payments.revoke_connection(current_principal(), request.connection_id)
        return mapping.connection_message(connection, now_ms())

    def RotatePaymentConnectionSecret(self, request, context):
        body = read_message(request.body, pb.RotateSecretInput)
        with client_paths(body.DESCRIPTOR):
            revealed = self.payments.rotate_secret(
                current_principal(), request.connection_id, given(body, "signing_secret")
            )
        return mapping.revealed_message(revealed, now_ms())

    def ListPaymentEvents(self, request, context):
        limit, offset = page_bounds(request)
        listing = self.payments.list_events(current_principal(), request.connection_id, request.status, limit, offset)
        return mapping.event_page(listing, limit, offset)

    def ReceivePaymentWebhook(self, request, context):
        self.payments.receive(request.token, mapping.delivery(request, context.invocation_metadata()))
        return pb.ReceivePaymentWebhookResponse(received=True)
