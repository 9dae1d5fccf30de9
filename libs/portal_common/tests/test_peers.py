"""How a peer's answer reaches the caller: transient failures are 503s, permanent ones are not."""

from concurrent import futures

import grpc
import pytest
from google.protobuf import empty_pb2

from portal_common.domain_errors import DomainError, InvalidArgument, PermissionDenied, Unauthenticated, Unavailable
from portal_common.peers import ask


@pytest.fixture(scope="module")
def peer():
    """A real gRPC server whose one method fails with the status code named in the request's metadata."""

    def fail(request, context):
        code = grpc.StatusCode[dict(context.invocation_metadata())["x-code"]]
        context.abort(code, f"failed with {code.name}")

    handler = grpc.method_handlers_generic_handler(
        "test.Peer",
        {
            "Fail": grpc.unary_unary_rpc_method_handler(
                fail,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    method = channel.unary_unary(
        "/test.Peer/Fail",
        request_serializer=empty_pb2.Empty.SerializeToString,
        response_deserializer=empty_pb2.Empty.FromString,
    )
    yield method
    server.stop(None)


def _asking(method, code: str):
    def call(request, metadata, timeout, wait_for_ready):
        return method(request, metadata=[*metadata, ("x-code", code)], timeout=timeout, wait_for_ready=wait_for_ready)

    return ask(call, empty_pb2.Empty(), "pk_x", timeout=5, peer="crm")


def test_not_found_is_no_record(peer):
    assert _asking(peer, "NOT_FOUND") is None


@pytest.mark.parametrize(
    "code, error",
    [
        ("UNAVAILABLE", Unavailable),
        ("DEADLINE_EXCEEDED", Unavailable),
        ("RESOURCE_EXHAUSTED", Unavailable),
        ("UNAUTHENTICATED", Unauthenticated),
        ("PERMISSION_DENIED", PermissionDenied),
        ("INVALID_ARGUMENT", InvalidArgument),
        ("INTERNAL", DomainError),
        ("UNIMPLEMENTED", DomainError),
    ],
)
def test_each_failure_is_passed_on_as_what_it_is(peer, code, error):
    with pytest.raises(error) as raised:
        _asking(peer, code)
    assert type(raised.value) is error
