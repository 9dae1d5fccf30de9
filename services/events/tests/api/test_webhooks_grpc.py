"""The WebhookEndpointsService over real gRPC, with a real auth service behind the events server:
every method takes the organization's API key, and where webhooks may go is the server's setting."""

import dataclasses

import grpc
import pytest
from google.protobuf import struct_pb2

from events.config import Settings
from events.server import build, open_store
from portal.events.v1 import webhooks_pb2 as pb
from portal.events.v1 import webhooks_pb2_grpc
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info


def struct(value: dict) -> struct_pb2.Struct:
    body = struct_pb2.Struct()
    body.update(value)
    return body


@pytest.fixture(scope="module")
def servers(databases, grpc_peers):
    """Two events servers on one database: one for development (private targets allowed), one not."""
    settings = Settings(
        database_url=databases.new_url("events"),
        address="127.0.0.1:0",
        auth_target=grpc_peers.auth_target,
        crm_target=grpc_peers.crm_target,
        internal_token=grpc_peers.internal_token,
        webhook_allow_private_targets=False,
    )
    stubs, running = {}, []
    for name, allowed in (("strict", False), ("development", True)):
        configured = dataclasses.replace(settings, webhook_allow_private_targets=allowed)
        database, store = open_store(configured)
        server, port = build(configured, configured.address, database, store)
        server.start()
        running.append(server)
        stubs[name] = webhooks_pb2_grpc.WebhookEndpointsServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    _, key = grpc_peers.accounts.create_organization("Hooked")
    yield key, stubs
    for server in running:
        server.stop(None)


def test_every_method_needs_the_api_key(servers):
    _, stubs = servers
    stub = stubs["strict"]
    calls = [
        (stub.CreateWebhookEndpoint, pb.CreateWebhookEndpointRequest()),
        (stub.ListWebhookEndpoints, pb.ListWebhookEndpointsRequest()),
        (stub.GetWebhookEndpoint, pb.GetWebhookEndpointRequest(endpoint_id="we_x")),
        (stub.UpdateWebhookEndpoint, pb.UpdateWebhookEndpointRequest(endpoint_id="we_x")),
        (stub.DeleteWebhookEndpoint, pb.DeleteWebhookEndpointRequest(endpoint_id="we_x")),
        (stub.RotateWebhookEndpointSecret, pb.RotateWebhookEndpointSecretRequest(endpoint_id="we_x")),
        (stub.ListWebhookDeliveries, pb.ListWebhookDeliveriesRequest(endpoint_id="we_x")),
        (stub.RetryWebhookDelivery, pb.RetryWebhookDeliveryRequest(endpoint_id="we_x", delivery_id="whd_x")),
        (stub.RecoverWebhookEvents, pb.RecoverWebhookEventsRequest(endpoint_id="we_x")),
        (stub.SendWebhookTestEvent, pb.SendWebhookTestEventRequest(endpoint_id="we_x")),
    ]
    assert len(calls) == len(pb.DESCRIPTOR.services_by_name["WebhookEndpointsService"].methods)
    for method, request in calls:
        with pytest.raises(grpc.RpcError) as refused:
            method(request)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_server_setting_decides_where_webhooks_may_go(servers):
    key, stubs = servers
    local = struct({"url": "http://127.0.0.1:9/hook", "enabledEvents": ["*"]})
    with pytest.raises(grpc.RpcError) as refused:
        stubs["strict"].CreateWebhookEndpoint(pb.CreateWebhookEndpointRequest(body=local), metadata=bearer(key))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).metadata["field"] == "url"

    created = stubs["development"].CreateWebhookEndpoint(
        pb.CreateWebhookEndpointRequest(body=local), metadata=bearer(key)
    )
    assert created.secret.startswith("whsec_") and created.status == "enabled"
    fetched = stubs["strict"].GetWebhookEndpoint(
        pb.GetWebhookEndpointRequest(endpoint_id=created.id), metadata=bearer(key)
    )
    assert not fetched.HasField("secret") and fetched.url == "http://127.0.0.1:9/hook"


def test_unknown_fields_are_refused_with_their_json_path(servers):
    key, stubs = servers
    body = struct({"url": "https://hooks.example.com/x", "enabledEvents": ["*"], "enabled_events_typo": 1})
    with pytest.raises(grpc.RpcError) as refused:
        stubs["strict"].CreateWebhookEndpoint(pb.CreateWebhookEndpointRequest(body=body), metadata=bearer(key))
    assert error_info(refused.value).metadata["field"] == "enabled_events_typo"
