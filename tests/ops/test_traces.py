"""Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, the gateway and every service send their spans to
an OTLP collector, here a real OTLP/gRPC receiver in the test process, and one request through the
gateway is one trace across the processes it crosses (docs/operations.md, "Traces")."""

import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from portal.projects.v1 import projects_pb2, projects_pb2_grpc
from portal_stack import gateway
from portal_stack.stack import BIN
from portal_stack.testing import Api, free_port, new_organization, sqlite_pass_only, start_stack

pytestmark = sqlite_pass_only

SERVER, CLIENT = trace_pb2.Span.SPAN_KIND_SERVER, trace_pb2.Span.SPAN_KIND_CLIENT


@dataclasses.dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: frozenset[str]


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver, as a collector is one: it keeps every span it is sent."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spans: list[Span] = []

    def Export(self, request, context):
        with self._lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self._spans.extend(
                        Span(
                            resource["service.name"],
                            span.name,
                            span.kind,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            frozenset(a.key for a in span.attributes),
                        )
                        for span in scope_spans.spans
                    )
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self, trace_id: str | None = None) -> list[Span]:
        with self._lock:
            return [span for span in self._spans if trace_id is None or span.trace_id == trace_id]


@pytest.fixture
def receiver():
    server = grpc.server(futures.ThreadPoolExecutor(4))
    servicer = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(0)


def _until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)
    return found


def _one(spans: list[Span], **fields) -> Span:
    matching = [s for s in spans if all(getattr(s, k) == v for k, v in fields.items())]
    assert len(matching) == 1, (fields, spans)
    return matching[0]


def _queries(spans: list[Span]) -> list[Span]:
    return [s for s in spans if "db.statement" in s.attributes]


def _served_in(span: Span, trace: list[Span]) -> Span:
    """The server span of the request that `span` belongs to."""
    by_id = {s.span_id: s for s in trace}
    while span.kind != SERVER:
        span = by_id[span.parent_id]
    return span


def test_a_request_is_one_trace_across_the_gateway_and_the_services(databases, tmp_path, receiver):
    collector, port = receiver
    # The services hold their spans for a minute: the ones checked below arrive because each
    # process flushes its spans when it stops.
    stack = start_stack(
        databases,
        tmp_path / "stack",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_BSP_SCHEDULE_DELAY="60000",
        PORTAL_DRAIN_SECONDS="0",
    )
    try:
        organization = new_organization(stack)
        api = Api(f"http://127.0.0.1:{stack.config.http_port}", organization["apiKey"])
        # A payment webhook's path holds its connection's secret token: never traced.
        webhook = api.post("/api/v1/webhooks/payments/whk_unknown", key=None, data=b"{}")
        assert webhook.status_code == 404, webhook.text
        contact = api.post(
            "/api/v1/crm/contacts",
            json={"email": f"{uuid.uuid4().hex[:12]}@client.example", "organizationInfo": {"name": "Client"}},
        )
        assert contact.status_code == 201, contact.text
        # Creating a project of a CRM organization asks the CRM service whether it is the caller's.
        project = api.post(
            "/api/v1/projects",
            json={"name": "Traced", "subtype": "client_project", "clientOrgId": contact.json()["crmOrganizationId"]},
        )
        assert project.status_code == 201, project.text
        # A client that traces itself: the gateway continues its trace.
        client_trace, client_span = secrets.token_hex(16), secrets.token_hex(8)
        read = api.get(
            f"/api/v1/projects/{project.json()['_id']}", headers={"traceparent": f"00-{client_trace}-{client_span}-01"}
        )
        assert read.status_code == 200, read.text
        # A native gRPC client, straight to the service and without a trace: the service starts one.
        with grpc.insecure_channel(f"127.0.0.1:{stack.config.service_ports['projects']}") as channel:
            projects_pb2_grpc.ProjectsServiceStub(channel).GetProject(
                projects_pb2.GetProjectRequest(project_id=project.json()["_id"]),
                metadata=[("authorization", f"Bearer {organization['apiKey']}")],
            )
        # Envoy sends its spans every 5 s.
        _until(
            lambda: len([s for s in collector.spans() if s.service == "portal-gateway"]) >= 3, 15, "the gateway's spans"
        )
    finally:
        stack.stop()

    created = _one(
        collector.spans(), service="portal-projects", name="/portal.projects.v1.ProjectsService/CreateProject"
    )
    trace = collector.spans(created.trace_id)
    edge = _one(trace, service="portal-gateway")
    assert edge.kind == SERVER and edge.parent_id == "", edge
    assert created.kind == SERVER and created.parent_id == edge.span_id
    ask_crm = _one(trace, service="portal-projects", name="/portal.crm.v1.CrmService/GetOrganization")
    assert ask_crm.kind == CLIENT and ask_crm.parent_id == created.span_id
    answer = _one(trace, service="portal-crm", name="/portal.crm.v1.CrmService/GetOrganization")
    assert answer.kind == SERVER and answer.parent_id == ask_crm.span_id
    queries = _queries(trace)
    assert {s.service for s in queries} >= {"portal-projects", "portal-crm"}, trace
    for query in queries:  # inside the request of its own service
        assert _served_in(query, trace).service == query.service

    # Three requests traced: neither the payment webhook nor the stack's /healthz checks.
    assert len([s for s in collector.spans() if s.service == "portal-gateway"]) == 3, collector.spans()
    continued = collector.spans(client_trace)
    assert _one(continued, service="portal-gateway").parent_id == client_span
    read_span = _one(continued, service="portal-projects", name="/portal.projects.v1.ProjectsService/GetProject")
    assert read_span.parent_id == _one(continued, service="portal-gateway").span_id
    # The project is read with a db.HotQuery, on the driver's cursor: a span of its own.
    assert {_served_in(query, continued) for query in _queries(continued)} == {read_span}, continued
    # The native call is a trace of its own; every other trace starts at the gateway: background work
    # starts none, and health checks are not traced.
    native = _one(collector.spans(), service="portal-projects", name=read_span.name, parent_id="")
    assert {s.trace_id for s in collector.spans()} == {
        native.trace_id,
        *(s.trace_id for s in collector.spans() if s.service == "portal-gateway"),
    }, collector.spans()


def test_without_an_endpoint_nothing_is_traced():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    probe = (
        "import sys, grpc, sqlalchemy\n"
        "from portal_common import tracing\n"
        "server, channel, engine = grpc.server, grpc.insecure_channel, sqlalchemy.create_engine\n"
        "tracing.configure('crm')\n"
        "assert (grpc.server, grpc.insecure_channel, sqlalchemy.create_engine) == (server, channel, engine)\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'OpenTelemetry imported'\n"
    )
    subprocess.run([sys.executable, "-c", probe], env=env, check=True)
    assert gateway.tracing_yaml("", 100) == ("", "")


def test_a_collector_that_is_down_is_a_warning():
    """Its export failures never reach Sentry, which takes errors (docs/operations.md, "Traces")."""
    probe = (
        "import logging\n"
        "from opentelemetry import trace\n"
        "from portal_common import tracing\n"
        "records = []\n"
        "logging.getLogger().addHandler(type('H', (logging.Handler,), {'emit': lambda s, r: records.append(r)})())\n"
        "tracing.configure('crm')\n"
        "trace.get_tracer('probe').start_span('call', kind=trace.SpanKind.SERVER).end()\n"
        "trace.get_tracer_provider().shutdown()\n"
        "failures = [r for r in records if 'Failed to export' in r.getMessage()]\n"
        "assert failures and {r.levelname for r in records} == {'WARNING'}, records\n"
    )
    env = dict(
        os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}", OTEL_EXPORTER_OTLP_TIMEOUT="1"
    )
    subprocess.run([sys.executable, "-c", probe], env=env, check=True)


def test_envoy_takes_the_tracing_of_an_https_collector(tmp_path):
    """The TLS variant of the collector's cluster (the test above reaches an http:// one), in a
    minimal configuration that Envoy validates."""
    tracing, cluster = gateway.tracing_yaml("https://collector.example.com:4318", 12.5)
    assert '"random_sampling": {"value": 12.5}' in tracing and '"sni": "collector.example.com"' in cluster
    config = tmp_path / "envoy.yaml"
    config.write_text(
        f"""static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: rest
          {tracing}
          route_config: {{virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: /}}, direct_response: {{status: 200}}}}]}}]}}
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
  clusters:
{cluster}
"""
    )
    envoy = shutil.which("envoy", path=str(BIN)) or "envoy"
    subprocess.run([envoy, "--mode", "validate", "-c", str(config)], check=True, capture_output=True)
    with pytest.raises(ValueError):
        gateway.tracing_yaml("collector:4317", 100)
