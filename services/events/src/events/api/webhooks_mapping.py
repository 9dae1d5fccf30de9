"""Webhook endpoints and deliveries between the domain and the WebhookEndpointsService messages."""

from google.protobuf import struct_pb2

from events.domain.webhooks import Attempt, Changes, WebhookEndpoint
from events.service_layer.webhooks import DeliveryView, Recovery, Revealed
from portal.events.v1 import webhooks_pb2 as pb
from portal_common.event_json import message_object
from portal_common.json_body import given, read_message
from portal_common.pagination import Listing


def endpoint_message(endpoint: WebhookEndpoint, now: int) -> pb.WebhookEndpoint:
    expires = endpoint.previous_secret_expires_at
    return pb.WebhookEndpoint(
        id=endpoint.id,
        url=endpoint.url,
        enabled_events=endpoint.enabled_events,
        description=endpoint.description,
        status=endpoint.status,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        previous_secret_expires_at=expires if expires is not None and expires > now else None,
        failing_since=endpoint.failing_since,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def endpoint_object(endpoint: WebhookEndpoint) -> dict:
    """The endpoint as GET returns it (never the secret): the object of its events."""
    return message_object(endpoint_message(endpoint, endpoint.updated_at))


def revealed_message(revealed: Revealed, now: int) -> pb.WebhookEndpoint:
    message = endpoint_message(revealed.endpoint, now)
    message.secret = revealed.secret
    return message


def endpoint_page(listing: Listing[WebhookEndpoint], limit: int, offset: int, now: int):
    return pb.ListWebhookEndpointsResponse(
        endpoints=[endpoint_message(endpoint, now) for endpoint in listing.items],
        total=listing.total,
        limit=limit,
        offset=offset,
    )


def endpoint_input(body: struct_pb2.Struct) -> pb.WebhookEndpointInput:
    return read_message(body, pb.WebhookEndpointInput)


def changes(body: struct_pb2.Struct) -> Changes:
    """What a PATCH gives; `enabledEvents` only when the body holds it (an empty list is refused)."""
    message = read_message(body, pb.WebhookEndpointChanges)
    return Changes(
        url=given(message, "url"),
        enabled_events=list(message.enabled_events) if "enabledEvents" in body.fields else None,
        description=given(message, "description"),
        status=given(message, "status"),
    )


def since(body: struct_pb2.Struct) -> float | None:
    return given(read_message(body, pb.RecoverInput), "since")


def attempt_message(attempt: Attempt) -> pb.WebhookAttempt:
    answer = attempt.answer
    return pb.WebhookAttempt(
        attempted_at=attempt.attempted_at,
        http_status=answer.http_status,
        duration_ms=answer.duration_ms,
        response_body=answer.body,
        error=answer.error,
    )


def delivery_message(view: DeliveryView) -> pb.WebhookDelivery:
    delivery = view.delivery
    return pb.WebhookDelivery(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempt_count=delivery.failures + (1 if delivery.delivered_at is not None else 0),
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        attempts=[attempt_message(attempt) for attempt in view.attempts],
    )


def delivery_page(listing: Listing[DeliveryView], limit: int, offset: int) -> pb.ListWebhookDeliveriesResponse:
    return pb.ListWebhookDeliveriesResponse(
        deliveries=[delivery_message(view) for view in listing.items], total=listing.total, limit=limit, offset=offset
    )


def recovery_message(recovery: Recovery) -> pb.RecoverWebhookEventsResponse:
    return pb.RecoverWebhookEventsResponse(
        queued=recovery.queued, has_more=recovery.next_since is not None, next_since=recovery.next_since
    )
