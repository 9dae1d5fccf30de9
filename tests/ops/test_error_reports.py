"""Error reports (docs/operations.md, "Error reports (Sentry)"): an unhandled error in a request
reaches a Sentry server, here a real HTTP server standing in for it, with the exception and the
request id, and nothing about the caller."""

import gzip
import http.server
import json
import threading

import grpc
import pytest
import sentry_sdk
from google.protobuf import struct_pb2

from portal_common import error_reports
from portal_common.errors import ErrorInterceptor
from portal_common.server import create_server
from portal_stack.testing import sqlite_pass_only

pytestmark = sqlite_pass_only

FAIL = "/portal.test.v1.Broken/Fail"
API_KEY = "pk_" + "S" * 43
EMAIL = "private.person@example.com"


class SentryStandIn(http.server.ThreadingHTTPServer):
    """Keeps what is POSTed to it: (path, headers, body) of each envelope."""

    def __init__(self):
        self.received: list[tuple[str, dict, bytes]] = []
        self.arrived = threading.Event()
        super().__init__(("127.0.0.1", 0), _Receiver)


class _Receiver(http.server.BaseHTTPRequestHandler):
    server: SentryStandIn

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.server.arrived.set()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry(monkeypatch):
    server = SentryStandIn()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SENTRY_DSN", f"http://publickey@127.0.0.1:{server.server_port}/1")
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "test")
    monkeypatch.setenv("PORTAL_RELEASE", "1.2.3")
    error_reports.configure("crm")
    yield server
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    server.shutdown()
    server.server_close()


def broken(request, context):
    email = request.fields["email"].string_value  # a local variable that must not be reported
    raise RuntimeError(f"the handler broke on a {len(email)}-character value")


def test_an_unhandled_error_is_reported_with_its_request_id_and_nothing_of_the_caller(sentry):
    service, _, name = FAIL[1:].partition("/")
    handler = grpc.method_handlers_generic_handler(
        service,
        {
            name: grpc.unary_unary_rpc_method_handler(
                broken,
                request_deserializer=struct_pb2.Struct.FromString,
                response_serializer=struct_pb2.Struct.SerializeToString,
            )
        },
    )
    server, port = create_server(
        "127.0.0.1:0",
        [(lambda _servicer, grpc_server: grpc_server.add_generic_rpc_handlers((handler,)), None, service)],
        interceptors=[ErrorInterceptor()],
    )
    server.start()
    request = struct_pb2.Struct()
    request.update({"email": EMAIL})
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(FAIL, request_serializer=struct_pb2.Struct.SerializeToString)
            with pytest.raises(grpc.RpcError) as failed:
                call(request, metadata=[("authorization", f"Bearer {API_KEY}"), ("x-request-id", "req-77")], timeout=5)
    finally:
        server.stop(None)
    assert failed.value.code() == grpc.StatusCode.INTERNAL

    sentry_sdk.flush(timeout=5)
    assert sentry.arrived.wait(5)
    (path, headers, body) = sentry.received[0]
    assert path == "/api/1/envelope/" and "sentry_key=publickey" in headers["X-Sentry-Auth"]
    items = [json.loads(line) for line in body.splitlines() if line.strip()]
    (event,) = [item for item in items if "exception" in item]
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError" and "26-character value" in exception["value"]
    assert any(frame["function"] == "broken" for frame in exception["stacktrace"]["frames"])
    assert event["tags"] == {"request_id": "req-77", "service": "crm"}
    assert (event["environment"], event["release"]) == ("test", "1.2.3")
    assert event["logentry"]["message"].startswith("unhandled error in")
    for secret in (API_KEY, "Bearer", EMAIL, "authorization"):
        assert secret.encode() not in body, secret
