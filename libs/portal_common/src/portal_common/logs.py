"""The logs of a service process: one JSON object per line on stdout, and the request ids that tie
the lines of one request together across the gateway and the services (docs/operations.md, "Logs").

Everything logs through the standard library's `logging` (ours, grpc's, SQLAlchemy's, Alembic's);
structlog renders each record, adding the service, the time and what is known about the request
being served (its id; the organization and credential once authenticated).
"""

import functools
import logging
import re
import sys
import threading
import time
import uuid

import grpc
import structlog
from google.api import annotations_pb2
from google.protobuf import descriptor_pool
from structlog.typing import Processor

from portal_common import settings
from portal_common.address_limits import EXTERNAL_ADDRESS_HEADER
from portal_common.interceptors import BehaviorInterceptor

REQUEST_ID_HEADER = "x-request-id"
# A request id a caller sends is kept when it looks like one (Envoy's are UUIDs); anything else,
# which could be made to look like other log content, is replaced by a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

requests_log = structlog.stdlib.get_logger("portal.requests")
# Checked before a request line is built: a process whose logs are not configured (a test's
# server, a benchmark's) or are set above INFO spends nothing on them.
_request_lines = logging.getLogger("portal.requests")


def configure(service: str) -> None:
    """Routes every log record of the process to stdout: JSON lines, or readable text with
    PORTAL_LOG_FORMAT=text; records below PORTAL_LOG_LEVEL (INFO) are dropped."""
    text = settings.env_str("PORTAL_LOG_FORMAT", "json") == "text"
    level = settings.env_str("PORTAL_LOG_LEVEL", "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise SystemExit(f"PORTAL_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}")

    def add_service(logger, method_name, event_dict):
        event_dict["service"] = service
        return event_dict

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        add_service,
    ]
    rendering: list[Processor] = (
        [structlog.dev.ConsoleRenderer(colors=False)]
        if text
        else [structlog.processors.format_exc_info, structlog.processors.EventRenamer("message"), _json_line]
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # A cached logger would keep this configuration past a later one (tests configure and
        # restore); not caching costs about 4 µs a line.
        cache_logger_on_first_use=False,
    )
    # A crash of the process or of one of its threads is a log line too, not a bare traceback; so
    # is an exception Python can only ignore (in a __del__, at exit).
    crashes = logging.getLogger("portal.crash")
    sys.unraisablehook = lambda unraisable: crashes.warning(
        "%s: %r",
        unraisable.err_msg or "Exception ignored in",
        unraisable.object,
        exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback),  # type: ignore[arg-type]
    )
    sys.excepthook = lambda kind, error, trace: crashes.critical("the process failed", exc_info=(kind, error, trace))
    threading.excepthook = lambda args: crashes.critical(
        "thread %s failed",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )


_FIRST = ("time", "level", "service", "logger", "message", "request_id")
_render_json = structlog.processors.JSONRenderer(ensure_ascii=False)


def _json_line(logger, method_name, event_dict):
    """The line, its fixed fields first, so that a reader finds them at a glance."""
    ordered = {key: event_dict.pop(key) for key in _FIRST if key in event_dict}
    return _render_json(logger, method_name, {**ordered, **event_dict})


def current_request_id() -> str | None:
    """The id of the request being served by this thread, if any."""
    return structlog.contextvars.get_contextvars().get("request_id")


def bind_caller(organization_id: str, credential_id: str) -> None:
    """Names the authenticated caller in every line logged for the rest of the request (the
    request's own line included). Ids only: never a credential."""
    structlog.contextvars.bind_contextvars(organization_id=organization_id, credential_id=credential_id)


def server_interceptors() -> list:
    return [RequestLogInterceptor()]


class RequestLogInterceptor(BehaviorInterceptor):
    """Gives each call of a service's own methods a request id (the caller's `x-request-id`, set
    by the gateway, or a new one) and logs one line when it ends. Health checks and reflection pass
    untouched and unlogged: the gateway checks health every second."""

    def around(self, method, behavior, request, context):
        metadata = dict(context.invocation_metadata())
        given = metadata.get(REQUEST_ID_HEADER, "")
        request_id = given if _REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
        # The server's threads serve one request after another: what the last one bound goes.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        code = None
        try:
            response = behavior(request, context)
            code = context.code() or grpc.StatusCode.OK
            return response
        finally:
            code = code or context.code() or grpc.StatusCode.UNKNOWN
            if _request_lines.isEnabledFor(logging.INFO):
                requests_log.info(
                    "request",
                    method=method,
                    route=_route(method),
                    grpc_code=code.name,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    client=metadata.get(EXTERNAL_ADDRESS_HEADER),  # as the gateway saw it
                    peer=context.peer(),
                )
            structlog.contextvars.clear_contextvars()


@functools.cache
def _route(method: str) -> str:
    """The REST route of a gRPC method ("/portal.crm.v1.CrmService/GetContact" → "GET
    /api/v1/crm/contacts/{contact_id}"), or the method itself when it has none (internal methods)."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.lstrip("/").replace("/", "."))
    except KeyError:
        return method
    rule = found.GetOptions().Extensions[annotations_pb2.http]
    verb = rule.WhichOneof("pattern")
    if verb is None or verb == "custom":
        return method
    return f"{verb.upper()} {getattr(rule, verb)}"


class _RequestIdForwarding(grpc.UnaryUnaryClientInterceptor):
    def intercept_unary_unary(self, continuation, client_call_details, request):
        request_id = current_request_id()
        if request_id:
            metadata = [*(client_call_details.metadata or ()), (REQUEST_ID_HEADER, request_id)]
            client_call_details = client_call_details._replace(metadata=metadata)
        return continuation(client_call_details, request)


def forwarding_request_ids(channel: grpc.Channel) -> grpc.Channel:
    """`channel`, whose calls carry the id of the request being served (if any) as `x-request-id`,
    so that the peer's log lines have the same id as the caller's."""
    return grpc.intercept_channel(channel, _RequestIdForwarding())
