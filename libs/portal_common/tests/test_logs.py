"""JSON log lines and request ids (portal_common.logs) with a real gRPC server and channel."""

import io
import json
import logging
import os
import subprocess
import sys
import threading
import uuid

import grpc
import pytest
import structlog
from google.protobuf import wrappers_pb2

from portal_common import logs
from portal_common.channels import internal_channel
from portal_common.server import create_server
from portal_stack.testing import sqlite_pass_only

pytestmark = sqlite_pass_only

CONFIGURED_PROCESS = """
import logging, warnings
from portal_common import logs
logs.configure("crm")
log = logging.getLogger("crm.somewhere")
log.info("plain %s", "line")
log.debug("not shown at INFO")
try:
    raise ValueError("broken")
except ValueError:
    log.exception("it failed")
warnings.warn("deprecated thing")
class Leaky:
    def __del__(self):
        raise OSError("while collected")
Leaky()
raise RuntimeError("uncaught")
"""


def run_configured(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CONFIGURED_PROCESS],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_line_of_a_configured_process_is_a_json_object():
    ran = run_configured(PORTAL_LOG_FORMAT="", PORTAL_LOG_LEVEL="")
    assert ran.stderr == ""
    entries = [json.loads(line) for line in ran.stdout.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in entries] == [
        ("info", "crm.somewhere", "plain line"),
        ("error", "crm.somewhere", "it failed"),
        ("warning", "py.warnings", entries[2]["message"]),
        ("warning", "portal.crash", entries[3]["message"]),
        ("critical", "portal.crash", "the process failed"),
    ]
    assert "Leaky" in entries[3]["message"] and "OSError: while collected" in entries[3]["exception"]
    assert "deprecated thing" in entries[2]["message"]
    assert all(e["service"] == "crm" and e["time"].endswith("Z") for e in entries)
    assert "ValueError: broken" in entries[1]["exception"] and "RuntimeError: uncaught" in entries[4]["exception"]


def test_text_format_and_level_from_the_environment():
    ran = run_configured(PORTAL_LOG_FORMAT="text", PORTAL_LOG_LEVEL="debug")
    output = ran.stdout.splitlines()
    assert any("plain line" in line and "service=crm" in line for line in output)
    assert any("not shown at INFO" in line for line in output)
    for line in output:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)


@pytest.fixture
def json_logs():
    """This process's logs configured as a service's, restored afterwards; yields a function that
    returns the JSON lines written since the last call."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("test")
    output = io.StringIO()
    root.handlers[0].setStream(output)

    def written() -> list[dict]:
        text = output.getvalue()
        output.seek(0)
        output.truncate()
        return [json.loads(line) for line in text.splitlines()]

    yield written
    root.handlers = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
    sys.excepthook, threading.excepthook = sys.__excepthook__, threading.__excepthook__
    sys.unraisablehook = sys.__unraisablehook__
    structlog.reset_defaults()


ECHO = "/portal.test.v1.Echo/Echo"
RELAY = "/portal.test.v1.Relay/Relay"


def generic(method: str, behavior):
    service, _, name = method[1:].partition("/")
    handler = grpc.method_handlers_generic_handler(
        service,
        {
            name: grpc.unary_unary_rpc_method_handler(
                behavior,
                request_deserializer=wrappers_pb2.StringValue.FromString,
                response_serializer=wrappers_pb2.StringValue.SerializeToString,
            )
        },
    )
    return (lambda _servicer, server: server.add_generic_rpc_handlers((handler,)), None, service)


@pytest.fixture
def relay_and_echo():
    """Two servers: Relay calls Echo through an internal channel; Echo answers with the request
    id it is serving and logs a line."""

    def echo(request, context):
        logging.getLogger("echo").info("echoing")
        return wrappers_pb2.StringValue(value=logs.current_request_id())

    echo_server, echo_port = create_server("127.0.0.1:0", [generic(ECHO, echo)])
    echo_server.start()
    channel = internal_channel(f"127.0.0.1:{echo_port}")
    ask_echo = channel.unary_unary(
        ECHO,
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )

    def relay(request, context):
        logs.bind_caller("org_1", "cred_1")
        return ask_echo(request, timeout=5)

    relay_server, relay_port = create_server("127.0.0.1:0", [generic(RELAY, relay)])
    relay_server.start()
    with grpc.insecure_channel(f"127.0.0.1:{relay_port}") as client:
        yield client.unary_unary(
            RELAY,
            request_serializer=wrappers_pb2.StringValue.SerializeToString,
            response_deserializer=wrappers_pb2.StringValue.FromString,
        )
    relay_server.stop(None)
    echo_server.stop(None)
    channel.close()


def test_the_callers_request_id_reaches_the_peer_and_every_line(json_logs, relay_and_echo):
    answer = relay_and_echo(wrappers_pb2.StringValue(), metadata=[("x-request-id", "req-42")], timeout=5)
    assert answer.value == "req-42"
    entries = json_logs()
    assert all(entry["request_id"] == "req-42" for entry in entries)
    echoing, echoed, relayed = entries  # the peer's lines end first
    assert echoing["message"] == "echoing" and "organization_id" not in echoing
    assert (echoed["method"], echoed["grpc_code"], echoed["route"]) == (ECHO, "OK", ECHO)
    assert (relayed["method"], relayed["organization_id"], relayed["credential_id"]) == (RELAY, "org_1", "cred_1")
    assert relayed["duration_ms"] >= echoed["duration_ms"] > 0
    assert relayed["peer"].startswith("ipv4:127.0.0.1:") and relayed["client"] is None  # no gateway in front


def test_a_request_without_a_usable_id_gets_a_new_one(json_logs, relay_and_echo):
    for sent in ([], [("x-request-id", "an id with spaces")], [("x-request-id", "x" * 129)]):
        answer = relay_and_echo(wrappers_pb2.StringValue(), metadata=sent, timeout=5)
        assert str(uuid.UUID(answer.value)) == answer.value
        assert {entry["request_id"] for entry in json_logs()} == {answer.value}


def test_a_failed_call_logs_its_code(json_logs):
    def refuse(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    server, port = create_server("127.0.0.1:0", [generic(ECHO, refuse)])
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.RpcError):
                channel.unary_unary(ECHO, request_serializer=wrappers_pb2.StringValue.SerializeToString)(
                    wrappers_pb2.StringValue(), timeout=5
                )
    finally:
        server.stop(None)
    (entry,) = json_logs()
    assert (entry["method"], entry["grpc_code"]) == (ECHO, "NOT_FOUND")


def test_a_process_without_configured_logs_writes_no_request_lines(capsys, relay_and_echo):
    relay_and_echo(wrappers_pb2.StringValue(), timeout=5)
    assert capsys.readouterr().out == ""
