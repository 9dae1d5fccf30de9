"""Payment connections and events between the domain and the PaymentsService messages."""

from invoicing.domain.payments import Delivery, PaymentConnection, StoredEvent
from invoicing.service_layer.payments import Revealed
from portal.invoicing.v1 import payments_pb2 as pb
from portal_common.pagination import Listing

WEBHOOK_PATH = "/api/v1/webhooks/payments/"
# The headers a signature check reads; nothing else of a delivery's metadata goes further.
SIGNATURE_HEADERS = ("stripe-signature", "webhook-id", "webhook-timestamp", "webhook-signature")


def connection_message(connection: PaymentConnection, now: int) -> pb.PaymentConnection:
    expires = connection.previous_secret_expires_at
    return pb.PaymentConnection(
        id=connection.id,
        provider=connection.provider,
        status=connection.status,
        token_hint=connection.token_hint,
        previous_secret_expires_at=expires if expires is not None and expires > now else None,
        rotated_at=connection.rotated_at,
        revoked_at=connection.revoked_at,
        created_at=connection.created_at,
    )


def revealed_message(revealed: Revealed, now: int) -> pb.PaymentConnection:
    """A connection with the token and secret shown in this answer only."""
    message = connection_message(revealed.connection, now)
    if revealed.token:
        message.webhook_url = WEBHOOK_PATH + revealed.token
    if revealed.secret:
        message.signing_secret = revealed.secret
    return message


def connection_page(listing: Listing[PaymentConnection], limit: int, offset: int, now: int):
    return pb.ListPaymentConnectionsResponse(
        connections=[connection_message(connection, now) for connection in listing.items],
        total=listing.total,
        limit=limit,
        offset=offset,
    )


def event_message(event: StoredEvent) -> pb.PaymentEvent:
    return pb.PaymentEvent(
        id=event.id,
        provider_event_id=event.provider_event_id,
        type=event.type,
        status=event.status,
        reason=event.reason,
        invoice_id=event.invoice_id,
        amount_in_cents=event.amount_cents,
        currency=event.currency,
        transaction_ref=event.transaction_ref,
        received_at=event.received_at,
    )


def event_page(listing: Listing[StoredEvent], limit: int, offset: int) -> pb.ListPaymentEventsResponse:
    return pb.ListPaymentEventsResponse(
        events=[event_message(event) for event in listing.items], total=listing.total, limit=limit, offset=offset
    )


def delivery(request: pb.ReceivePaymentWebhookRequest, metadata) -> Delivery:
    """The delivery's raw body and signature headers (which arrive as gRPC metadata)."""
    headers = {key: value for key, value in metadata if key in SIGNATURE_HEADERS and isinstance(value, str)}
    return Delivery(headers=headers, body=request.body.data)
