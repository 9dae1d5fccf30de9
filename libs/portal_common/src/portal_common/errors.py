"""The one error mapping of the services.

Use cases raise ApiError subclasses. ErrorInterceptor turns them into a google.rpc.Status with an
ErrorInfo (AIP-193) for gRPC callers, plus two trailers that the gateway's Lua filter
(gateway/rest_shape.lua) turns into the REST shape: the HTTP status and the `{"error": ...}` body.
"""
import json
import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from portal_common.interceptors import BehaviorInterceptor, Undecodable

log = logging.getLogger(__name__)

HTTP_STATUS_HEADER = "x-portal-http-status"
REST_ERROR_HEADER = "x-portal-error"
MAX_MESSAGE = 1000  # error messages travel in a trailer, and Envoy caps headers


class ApiError(Exception):
    grpc_code = grpc.StatusCode.INTERNAL
    http_status = 500
    reason = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None,
                 retry_after_seconds: int | None = None):
        super().__init__(message)
        self.message = message[:MAX_MESSAGE]
        self.field = field
        if reason:
            self.reason = reason
        # For REST clients, a Retry-After header: when the same call may succeed again.
        self.retry_after_seconds = retry_after_seconds

    def rest_body(self) -> dict:
        body = {"error": self.message, "code": self.reason}
        if self.field:
            body["field"] = self.field
        return body


class InvalidArgument(ApiError):
    grpc_code, http_status, reason = grpc.StatusCode.INVALID_ARGUMENT, 400, "INVALID_ARGUMENT"


class Unauthenticated(ApiError):
    grpc_code, http_status, reason = grpc.StatusCode.UNAUTHENTICATED, 401, "UNAUTHENTICATED"


class PermissionDenied(ApiError):
    grpc_code, http_status, reason = grpc.StatusCode.PERMISSION_DENIED, 403, "PERMISSION_DENIED"


class NotFound(ApiError):
    grpc_code, http_status, reason = grpc.StatusCode.NOT_FOUND, 404, "NOT_FOUND"


class Conflict(ApiError):
    grpc_code, http_status, reason = grpc.StatusCode.FAILED_PRECONDITION, 409, "CONFLICT"


class Unavailable(ApiError):
    grpc_code, http_status, reason = grpc.StatusCode.UNAVAILABLE, 503, "UNAVAILABLE"


class RateLimited(ApiError):
    grpc_code, http_status, reason = grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "RATE_LIMITED"


def http_status_metadata(status: int) -> tuple[str, str]:
    """Initial metadata that makes the gateway answer a successful call with `status` (e.g. 201)."""
    return (HTTP_STATUS_HEADER, str(status))


def _abort(context: grpc.ServicerContext, error: ApiError) -> None:
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain="portal")
    if error.field:
        info.metadata["field"] = error.field
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=error.grpc_code.value[0], message=error.message, details=[detail])
    rest = (http_status_metadata(error.http_status),
            (REST_ERROR_HEADER, json.dumps(error.rest_body(), ensure_ascii=True)))
    if error.retry_after_seconds is not None:
        # Response headers (Retry-After) travel as initial metadata. Once that is sent, trailers no
        # longer reach the gateway's Lua filter, so the REST status and body go with it.
        context.send_initial_metadata((("retry-after", str(error.retry_after_seconds)), *rest))
    context.set_trailing_metadata((*rest, ("grpc-status-details-bin", status.SerializeToString())))
    context.abort(error.grpc_code, error.message)


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


def _refusal(request) -> ApiError | None:
    """What is wrong with a request before any service code sees it, if anything."""
    if isinstance(request, Undecodable):
        return InvalidArgument(f"the request could not be decoded: {request.reason}")
    field = _field_with_nul(request)
    if field:
        return InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return None


class ErrorInterceptor(BehaviorInterceptor):
    """Maps ApiError to statuses; anything else is a bug, logged and answered as INTERNAL.

    It also refuses requests that cannot be served at all (undecodable, NUL characters in text).
    """

    def around(self, method, behavior, request, context):
        try:
            refusal = _refusal(request)
            if refusal:
                raise refusal
            return behavior(request, context)
        except ApiError as error:
            failure = error
        except Exception:
            log.exception("unhandled error in %s", method)
            failure = ApiError("internal error")
        _abort(context, failure)
