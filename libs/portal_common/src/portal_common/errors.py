"""The one error mapping of the services.

Use cases raise the plain errors of portal_common.domain_errors. ErrorInterceptor turns them into a
google.rpc.Status with an ErrorInfo (AIP-193) for gRPC callers, plus two trailers that the
gateway's Lua filter (gateway/rest_shape.lua) turns into the REST shape: the HTTP status and the
`{"error": ...}` body. The table below is the only place that knows both sides.
"""

import json
import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from portal_common.domain_errors import (
    Conflict,
    DeadlineExceeded,
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)
from portal_common.interceptors import BehaviorInterceptor, Undecodable

log = logging.getLogger(__name__)

HTTP_STATUS_HEADER = "x-portal-http-status"
REST_ERROR_HEADER = "x-portal-error"

# Each kind of domain error: its gRPC code, HTTP status and default AIP-193 reason.
STATUSES: dict[type[DomainError], tuple[grpc.StatusCode, int, str]] = {
    InvalidArgument: (grpc.StatusCode.INVALID_ARGUMENT, 400, "INVALID_ARGUMENT"),
    Unauthenticated: (grpc.StatusCode.UNAUTHENTICATED, 401, "UNAUTHENTICATED"),
    PermissionDenied: (grpc.StatusCode.PERMISSION_DENIED, 403, "PERMISSION_DENIED"),
    NotFound: (grpc.StatusCode.NOT_FOUND, 404, "NOT_FOUND"),
    Conflict: (grpc.StatusCode.FAILED_PRECONDITION, 409, "CONFLICT"),
    Unprocessable: (grpc.StatusCode.FAILED_PRECONDITION, 422, "UNPROCESSABLE"),
    RateLimited: (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "RATE_LIMITED"),
    Unavailable: (grpc.StatusCode.UNAVAILABLE, 503, "UNAVAILABLE"),
    DeadlineExceeded: (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED"),
}
_INTERNAL = (grpc.StatusCode.INTERNAL, 500, "INTERNAL")


def status_of(error: DomainError) -> tuple[grpc.StatusCode, int, str]:
    """(gRPC code, HTTP status, AIP-193 reason) of an error: its kind's, its own reason if it has one."""
    code, http, reason = next((STATUSES[kind] for kind in type(error).__mro__ if kind in STATUSES), _INTERNAL)
    return code, http, error.reason or reason


def rest_body(error: DomainError) -> dict:
    body = {"error": error.message, "code": status_of(error)[2]}
    if error.field:
        body["field"] = error.field
    return body


def http_status_metadata(status: int) -> tuple[str, str]:
    """Initial metadata that makes the gateway answer a successful call with `status` (e.g. 201)."""
    return (HTTP_STATUS_HEADER, str(status))


def _abort(context: grpc.ServicerContext, error: DomainError) -> None:
    code, http_status, reason = status_of(error)
    info = error_details_pb2.ErrorInfo(reason=reason, domain="portal")
    if error.field:
        info.metadata["field"] = error.field
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code.value[0], message=error.message, details=[detail])
    rest = (http_status_metadata(http_status), (REST_ERROR_HEADER, json.dumps(rest_body(error), ensure_ascii=True)))
    if error.retry_after_seconds is not None:
        # Response headers (Retry-After) travel as initial metadata. Once that is sent, trailers no
        # longer reach the gateway's Lua filter, so the REST status and body go with it.
        context.send_initial_metadata((("retry-after", str(error.retry_after_seconds)), *rest))
    context.set_trailing_metadata((*rest, ("grpc-status-details-bin", status.SerializeToString())))
    context.abort(code, error.message)


def _field_with_nul(message, prefix: str = "") -> str | None:
    """The JSON path of the first string (at any depth) of `message` holding a NUL character: no
    database stores those as text, so they are refused up front. A Struct field of the request
    itself is a REST body (`body: "project"`), whose keys are the client's top-level fields."""
    for field, value in message.ListFields():
        name = prefix + field.json_name
        if field.message_type and field.message_type.full_name in _JSON_TYPES:
            body_path = "" if not prefix and field.message_type.full_name == "google.protobuf.Struct" else name
            if found := _json_with_nul(value, body_path):
                return found
            continue
        if field.message_type and field.message_type.GetOptions().map_entry:
            items = [*value.keys(), *value.values()]
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, str) and "\x00" in item:
                return name
            if hasattr(item, "ListFields") and (found := _field_with_nul(item, name + ".")):
                return found
    return None


_JSON_TYPES = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}


def _json_with_nul(value, path: str) -> str | None:
    """Within free-form JSON (Struct, Value, ListValue): the path of a key or string holding NUL."""
    kind = value.DESCRIPTOR.full_name
    if kind == "google.protobuf.Struct":
        for key, item in value.fields.items():
            item_path = f"{path}.{key}" if path else key
            if "\x00" in key:
                return path or key
            if found := _json_with_nul(item, item_path):
                return found
    elif kind == "google.protobuf.ListValue":
        for index, item in enumerate(value.values):
            if found := _json_with_nul(item, f"{path}[{index}]"):
                return found
    else:
        which = value.WhichOneof("kind")
        if which == "string_value" and "\x00" in value.string_value:
            return path
        if which in ("struct_value", "list_value"):
            return _json_with_nul(getattr(value, which), path)
    return None


def _refusal(request) -> DomainError | None:
    """What is wrong with a request before any service code sees it, if anything."""
    if isinstance(request, Undecodable):
        return InvalidArgument(f"the request could not be decoded: {request.reason}")
    field = _field_with_nul(request)
    if field:
        return InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return None


class ErrorInterceptor(BehaviorInterceptor):
    """Maps domain errors to statuses; anything else is a bug, logged and answered as INTERNAL.

    It also refuses requests that cannot be served at all (undecodable, NUL characters in text).
    """

    def around(self, method, behavior, request, context):
        try:
            refusal = _refusal(request)
            if refusal:
                raise refusal
            return behavior(request, context)
        except DomainError as error:
            failure = error
        except Exception:
            log.exception("unhandled error in %s", method)
            failure = DomainError("internal error")
        _abort(context, failure)
