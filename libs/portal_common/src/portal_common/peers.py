"""Calls from one service to another, made on behalf of the caller.

A service asks a peer with the credential its own caller presented, so the peer scopes the answer
to the caller's organization exactly as it would for the caller. NOT_FOUND means "no such record
for this caller"; a peer that does not answer in time is Unavailable (503), never a guess.
"""
import grpc

from portal_common.auth import bearer_token
from portal_common.errors import Unavailable


def on_behalf_of(credential: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {credential}")]


def caller_credential(context: grpc.ServicerContext) -> str:
    """The bearer credential of the call being served, to pass on to peers."""
    return bearer_token(context)


def ask(method, request, credential: str, timeout: float, peer: str):
    """`method(request)` on a peer stub; None when the peer answers NOT_FOUND."""
    try:
        return method(request, metadata=on_behalf_of(credential), timeout=timeout, wait_for_ready=True)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise Unavailable(f"the {peer} service did not answer ({error.code().name}); try again shortly") from None
