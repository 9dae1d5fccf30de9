"""The PaymentsService over real gRPC, with real auth and CRM services behind the invoicing server:
which methods take a credential, and a delivery's raw bytes and metadata as a gRPC caller sends them."""

import base64
import hashlib
import hmac
import time

import grpc
import pytest
from google.api import httpbody_pb2
from google.protobuf import struct_pb2

from invoicing.config import Settings
from invoicing.server import build
from portal.invoicing.v1 import payments_pb2 as pb
from portal.invoicing.v1 import payments_pb2_grpc
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info


@pytest.fixture(scope="module")
def server(databases, grpc_peers):
    settings = Settings(
        database_url=databases.new_url("invoicing"),
        address="127.0.0.1:0",
        auth_target=grpc_peers.auth_target,
        crm_target=grpc_peers.crm_target,
        internal_token=grpc_peers.internal_token,
    )
    running, port = build(settings, settings.address)
    running.start()
    _, key = grpc_peers.accounts.create_organization("Payee")
    yield key, payments_pb2_grpc.PaymentsServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    running.stop(None)


def struct(value: dict) -> struct_pb2.Struct:
    body = struct_pb2.Struct()
    body.update(value)
    return body


def test_every_method_but_the_webhook_needs_a_credential(server):
    key, stub = server
    calls = [
        (stub.CreatePaymentConnection, pb.CreatePaymentConnectionRequest(body=struct({"provider": "standard"}))),
        (stub.ListPaymentConnections, pb.ListPaymentConnectionsRequest()),
        (stub.DeletePaymentConnection, pb.DeletePaymentConnectionRequest(connection_id="pcn_x")),
        (stub.RotatePaymentConnectionSecret, pb.RotatePaymentConnectionSecretRequest(connection_id="pcn_x")),
        (stub.ListPaymentEvents, pb.ListPaymentEventsRequest(connection_id="pcn_x")),
    ]
    for method, request in calls:
        with pytest.raises(grpc.RpcError) as refused:
            method(request)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as refused:
        stub.ReceivePaymentWebhook(pb.ReceivePaymentWebhookRequest(token="whk_" + "a" * 43))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND  # reached the service: no credential asked


def test_a_delivery_reads_its_bytes_and_signature_metadata(server):
    key, stub = server
    created = stub.CreatePaymentConnection(
        pb.CreatePaymentConnectionRequest(body=struct({"provider": "standard"})), metadata=bearer(key)
    )
    token = created.webhook_url.rpartition("/")[2]
    raw = b'{"type": "payment.refunded",\n  "data": {}}'
    t = str(int(time.time()))
    digest = hmac.new(base64.b64decode(created.signing_secret[6:]), b"msg_1." + t.encode() + b"." + raw, hashlib.sha256)
    signature = "v1," + base64.b64encode(digest.digest()).decode()
    request = pb.ReceivePaymentWebhookRequest(token=token, body=httpbody_pb2.HttpBody(data=raw))
    headers = (("webhook-id", "msg_1"), ("webhook-timestamp", t), ("webhook-signature", signature))
    assert stub.ReceivePaymentWebhook(request, metadata=headers).received

    with pytest.raises(grpc.RpcError) as refused:
        stub.ReceivePaymentWebhook(request, metadata=headers[:2])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).reason == "MISSING_SIGNATURE"

    listed = stub.ListPaymentEvents(
        pb.ListPaymentEventsRequest(connection_id=created.id, status="ignored"), metadata=bearer(key)
    )
    assert [(e.provider_event_id, e.type, e.status) for e in listed.events] == [
        ("msg_1", "payment.refunded", "ignored")
    ]
