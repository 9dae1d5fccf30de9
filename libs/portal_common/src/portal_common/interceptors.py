"""A server interceptor base that wraps the behaviour of unary-unary methods."""
import grpc


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
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
