"""Calls from one service to another, made on behalf of the caller.

A service asks a peer with the credential its own caller presented, so the peer scopes the answer
to the caller's organization exactly as it would for the caller. NOT_FOUND means "no such record
for this caller"; a peer that does not answer in time is Unavailable (503), never a guess. A peer's
permanent refusal (a revoked credential, a denied permission, a bad argument, a bug) is passed on as
what it is: a retry would fail the same way, so it is never reported as Unavailable.
"""

import grpc

from portal_common.auth import INTERNAL_TOKEN_HEADER, bearer_token
from portal_common.domain_errors import DomainError, InvalidArgument, PermissionDenied, Unauthenticated, Unavailable

# What a retry may cure.
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
}


def on_behalf_of(credential: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {credential}")]


def caller_credential(context: grpc.ServicerContext) -> str:
    """The bearer credential of the call being served, to pass on to peers."""
    return bearer_token(context)


def ask(method, request, credential: str, timeout: float, peer: str):
    """`method(request)` on a peer stub, on behalf of the caller's credential; None when the peer
    answers NOT_FOUND."""
    return _call(method, request, on_behalf_of(credential), timeout, peer)


def ask_internal(method, request, internal_token: str, timeout: float, peer: str):
    """`method(request)` on an internal-only method of a peer, with the internal credential."""
    return _call(method, request, [(INTERNAL_TOKEN_HEADER, internal_token)], timeout, peer)


def _call(method, request, metadata: list[tuple[str, str]], timeout: float, peer: str):
    try:
        return method(request, metadata=metadata, timeout=timeout, wait_for_ready=True)
    except grpc.RpcError as error:
        code = error.code()
        if code == grpc.StatusCode.NOT_FOUND:
            return None
        if code in _TRANSIENT:
            raise Unavailable(f"the {peer} service did not answer ({code.name}); try again shortly") from None
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise Unauthenticated("invalid, expired or revoked credential") from None
        if code == grpc.StatusCode.PERMISSION_DENIED:
            raise PermissionDenied(error.details() or "permission denied") from None
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            raise InvalidArgument(f"the {peer} service refused the request: {error.details()}") from None
        raise DomainError(f"the {peer} service failed ({code.name})") from None
