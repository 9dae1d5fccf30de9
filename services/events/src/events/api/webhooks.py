"""The WebhookEndpointsService servicer: request -> use case -> answer (webhooks_mapping.py)."""

from google.protobuf import empty_pb2

from events.api import webhooks_mapping as mapping
from events.service_layer.webhooks import WebhookEndpoints
from portal.events.v1 import webhooks_pb2 as pb
from portal.events.v1 import webhooks_pb2_grpc
from portal_common.auth import current_principal
from portal_common.clock import now_ms
from portal_common.errors import http_status_metadata
from portal_common.json_body import client_paths, given, no_fields
from portal_common.pagination import page_bounds


class WebhookEndpointsServicer(webhooks_pb2_grpc.WebhookEndpointsServiceServicer):
    def __init__(self, endpoints: WebhookEndpoints):
        self.endpoints = endpoints

    def CreateWebhookEndpoint(self, request, context):
        body = mapping.endpoint_input(request.body)
        with client_paths(pb.WebhookEndpointInput.DESCRIPTOR):
            revealed = self.endpoints.create(
                current_principal(),
                given(body, "url"),
                list(body.enabled_events),
                given(body, "description"),
            )
        context.send_initial_metadata((http_status_metadata(201),))
        return mapping.revealed_message(revealed, now_ms())

    def ListWebhookEndpoints(self, request, context):
        limit, offset = page_bounds(request)
        return mapping.endpoint_page(self.endpoints.list(current_principal(), limit, offset), limit, offset, now_ms())

    def GetWebhookEndpoint(self, request, context):
        return mapping.endpoint_message(self.endpoints.get(current_principal(), request.endpoint_id), now_ms())

    def UpdateWebhookEndpoint(self, request, context):
        changes = mapping.changes(request.body)
        with client_paths(pb.WebhookEndpointChanges.DESCRIPTOR):
            endpoint = self.endpoints.update(current_principal(), request.endpoint_id, changes)
        return mapping.endpoint_message(endpoint, now_ms())

    def DeleteWebhookEndpoint(self, request, context):
        self.endpoints.delete(current_principal(), request.endpoint_id)
        return empty_pb2.Empty()

    def RotateWebhookEndpointSecret(self, request, context):
        no_fields(request.body, "rotate-secret")
        revealed = self.endpoints.rotate_secret(current_principal(), request.endpoint_id)
        return mapping.revealed_message(revealed, now_ms())

    def ListWebhookDeliveries(self, request, context):
        limit, offset = page_bounds(request)
        listing = self.endpoints.deliveries(current_principal(), request.endpoint_id, request.status, limit, offset)
        return mapping.delivery_page(listing, limit, offset)

    def RetryWebhookDelivery(self, request, context):
        no_fields(request.body, "retry")
        view = self.endpoints.retry(current_principal(), request.endpoint_id, request.delivery_id)
        return mapping.delivery_message(view)

    def RecoverWebhookEvents(self, request, context):
        since = mapping.since(request.body)
        with client_paths(pb.RecoverInput.DESCRIPTOR):
            recovery = self.endpoints.recover(current_principal(), request.endpoint_id, since)
        return mapping.recovery_message(recovery)

    def SendWebhookTestEvent(self, request, context):
        no_fields(request.body, "test")
        view = self.endpoints.send_test(current_principal(), request.endpoint_id)
        context.send_initial_metadata((http_status_metadata(202),))
        return mapping.delivery_message(view)
