"""A server interceptor base that wraps the behaviour of unary-unary methods."""

import dataclasses

import grpc


@dataclasses.dataclass(frozen=True)
class Undecodable:
    """Stands for a request whose bytes did not parse (too deeply nested, for one), so that an
    interceptor can answer it with a clear INVALID_ARGUMENT instead of gRPC's bare INTERNAL."""

    reason: str


def _lenient(deserialize):
    def parse(data: bytes):
        try:
            return deserialize(data)
        except Exception as error:  # protobuf raises DecodeError, or RecursionError-like errors
            return Undecodable(str(error) or type(error).__name__)

    return parse


def _passing_bytes(serialize):
    """A response serializer that sends bytes a behaviour returns as they are: what it serialized
    itself (an answer stored and sent again byte for byte)."""

    def serialized(response):
        return response if isinstance(response, bytes) else serialize(response)

    return serialized


class BehaviorInterceptor(grpc.ServerInterceptor):
    """Subclasses implement `around(method, behavior, request, context)`.

    Only methods whose full name starts with one of `prefixes` are wrapped, so health checks and
    reflection pass untouched.
    """

    def __init__(self, prefixes: tuple[str, ...] = ("/portal.",)):
        self._prefixes = prefixes
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def around(self, method, behavior, request, context):
        raise NotImplementedError

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        # What a method's handler becomes never changes, so it is built once per method.
        if method in self._wrapped:
            return self._wrapped[method]
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or not method.startswith(self._prefixes):
            return handler
        self._wrapped[method] = self._wrap(method, handler)
        return self._wrapped[method]

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        behavior = handler.unary_unary

        def wrapped(request, context):
            return self.around(method, behavior, request, context)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=_lenient(handler.request_deserializer),
            response_serializer=_passing_bytes(handler.response_serializer),
        )
