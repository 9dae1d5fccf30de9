"""OpenTelemetry traces over OTLP, when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/operations.md,
"Traces").

A request that the gateway traces reaches a service with a W3C `traceparent` header; the service's
server span continues that trace, its calls to other services carry it on, and its database queries
are spans inside it. The gateway decides whether a request is traced (PORTAL_TRACE_SAMPLING_PERCENT):
the services follow the `sampled` flag they get. Without the variable nothing of OpenTelemetry is
even imported.
"""

import contextlib
import logging
import os
from typing import Callable, ContextManager

from portal_common import settings

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"

# Set by configure(): opens the span of a statement that db.HotQuery runs on the driver directly.
_statement_span: Callable[[str, str], ContextManager] | None = None


def enabled() -> bool:
    return bool(settings.env_str(ENDPOINT_VARIABLE, ""))


def configure(service: str) -> None:
    """Installs the tracer provider of `service`'s process and instruments gRPC servers, gRPC
    channels and SQLAlchemy engines created from now on. The standard OTEL_* variables of the
    exporter and the batch processor apply (OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY...);
    an http:// endpoint is reached without TLS. The provider flushes its spans when the process
    exits."""
    if not enabled():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc import exporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer, filters
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or f"portal-{service}"}),
        sampler=ParentBased(root=_served_requests_only()),
    )
    # The exporter's module takes grpc.insecure_channel before the client instrumentation wraps
    # it, and exports run with instrumentation suppressed: exports are never traced themselves.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # A collector that is down is the collector's incident: the exporter's lines about it (one per
    # retry, one per dropped batch, every few seconds) are warnings, never errors that Sentry reports.
    exporter.logger.addFilter(_no_higher_than_warning)
    trace.set_tracer_provider(provider)
    # Health checks (probes, the supervisor) and reflection would only bury the requests.
    plumbing = filters.negate(filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection")))
    GrpcInstrumentorServer(filter_=plumbing).instrument()
    GrpcInstrumentorClient(filter_=plumbing).instrument()
    # SQLAlchemy 2.1 is past the range the instrumentation declares (< 2.1) but works with it: the
    # tests check its spans.
    SQLAlchemyInstrumentor().instrument(skip_dep_check=True)
    tracer = provider.get_tracer(__name__)

    def statement_span(system: str, sql: str) -> ContextManager:
        attributes = {"db.system": system, "db.statement": sql}
        return tracer.start_as_current_span(sql.split(None, 1)[0], kind=trace.SpanKind.CLIENT, attributes=attributes)

    global _statement_span
    _statement_span = statement_span


def statement_span(system: str, sql: str) -> ContextManager:
    """The span of a statement that db.HotQuery runs on the driver's cursor, past the engine events
    that SQLAlchemy's instrumentation listens to; nothing without traces."""
    return _statement_span(system, sql) if _statement_span else contextlib.nullcontext()


def _no_higher_than_warning(record: logging.LogRecord) -> bool:
    if record.levelno > logging.WARNING:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


def _served_requests_only():
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind

    class ServedRequestsOnly(Sampler):
        """Starts a trace only for a request served without a trace context (a native gRPC client):
        database queries and calls of background work (outbox relays, periodic jobs, workers)
        start none, so they are not traced."""

        def should_sample(
            self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
        ):
            decision = Decision.RECORD_AND_SAMPLE if kind == SpanKind.SERVER else Decision.DROP
            return SamplingResult(decision, attributes if decision.is_sampled() else None, trace_state)

        def get_description(self) -> str:
            return "ServedRequestsOnly"

    return ServedRequestsOnly()
