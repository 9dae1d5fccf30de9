"""Authentication of incoming calls, done inside each service without a per-request round trip.

A bearer API key is hashed (SHA-256) and looked up in a short-lived in-process cache; only on a
miss does the service ask the auth service (ApiKeyService.ResolveApiKey) which organization the key
belongs to. A revoked key therefore stops working within `ttl_seconds` (5 s by default).
"""
import contextvars
import dataclasses
import hashlib
import re
import threading
import time

import grpc

from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common.errors import Unauthenticated, Unavailable
from portal_common.interceptors import BehaviorInterceptor

API_KEY_PATTERN = re.compile(r"pk_[A-Za-z0-9_-]{43}")


@dataclasses.dataclass(frozen=True)
class Principal:
    organization_id: str
    key_id: str


_current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def current_principal() -> Principal:
    """The caller of the RPC being served, set by AuthInterceptor."""
    return _current_principal.get()


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyResolver:
    """Resolves key hashes to principals through the auth service, caching answers for a while."""

    def __init__(self, auth_target: str, ttl_seconds: float = 5.0, max_entries: int = 100_000):
        self._stub = auth_pb2_grpc.ApiKeyServiceStub(grpc.insecure_channel(auth_target))
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def resolve(self, key_hash: str) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached and cached[1] > now:
            return cached[0]
        try:
            reply = self._stub.ResolveApiKey(auth_pb2.ResolveApiKeyRequest(key_hash=key_hash), timeout=2)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                self._cache.pop(key_hash, None)
                return None
            raise Unavailable("the auth service is unavailable; try again shortly") from None
        principal = Principal(organization_id=reply.organization_id, key_id=reply.key_id)
        with self._lock:
            if len(self._cache) >= self._max_entries:
                self._cache = {h: entry for h, entry in self._cache.items() if entry[1] > now}
            self._cache[key_hash] = (principal, now + self._ttl)
        return principal


def bearer_token(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <api key>'")
            return token.strip()
    raise Unauthenticated("missing Authorization header: send 'Authorization: Bearer <api key>'")


class AuthInterceptor(BehaviorInterceptor):
    """Requires a valid API key on every call of the service's own methods."""

    def __init__(self, resolver: ApiKeyResolver, prefixes: tuple[str, ...]):
        super().__init__(prefixes)
        self._resolver = resolver

    def around(self, method, behavior, request, context):
        token = bearer_token(context)
        principal = None
        if API_KEY_PATTERN.fullmatch(token):
            principal = self._resolver.resolve(hash_api_key(token))
        if principal is None:
            raise Unauthenticated("invalid or revoked API key")
        reset = _current_principal.set(principal)
        try:
            return behavior(request, context)
        finally:
            _current_principal.reset(reset)
