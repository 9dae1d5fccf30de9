"""Authentication of incoming calls, done inside each service without a per-request round trip.

Two kinds of bearer credentials exist: an organization's API key (`pk_...`) and a portal user's
session token (`ps_...`). A credential is hashed (SHA-256) and looked up in a short-lived
in-process cache; only on a miss does the service ask the auth service
(CredentialService.ResolveCredential) who presents it. A revoked key or a closed session therefore
stops working within `ttl_seconds` (5 s by default), and no entry outlives the credential's expiry.
An unknown credential is remembered as unknown for as long, and failed authentications are limited
per client address (address_limits.py).
"""

import contextvars
import hmac
import re
import threading
import time
from typing import Callable

import grpc

from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal_common import logs, metrics
from portal_common.address_limits import FailureBudget, client_address
from portal_common.channels import internal_channel
from portal_common.clock import now_ms
from portal_common.credential_format import CREDENTIAL_PATTERN, hash_credential
from portal_common.domain_errors import PermissionDenied, RateLimited, Unauthenticated, Unavailable
from portal_common.interceptors import BehaviorInterceptor
from portal_common.principal import API_KEY, PORTAL_USER, Principal


def principal_from_message(message: auth_pb2.Principal) -> Principal:
    kind = API_KEY if message.kind == auth_pb2.Principal.KIND_API_KEY else PORTAL_USER
    return Principal(
        kind=kind,
        organization_id=message.organization_id,
        credential_id=message.credential_id,
        portal_user_id=message.portal_user_id,
        crm_contact_id=message.crm_contact_id,
        crm_organization_id=message.crm_organization_id,
        expires_at=message.expires_at,
    )


_current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def current_principal() -> Principal:
    """The caller of the RPC being served, set by AuthInterceptor."""
    return _current_principal.get()


Lookup = Callable[[str], Principal | None]
"""Resolves a credential hash to its principal, None when unknown, revoked or expired."""


# The metadata that carries the internal credential: the secret the services share
# (PORTAL_INTERNAL_TOKEN) and that internal-only methods require.
INTERNAL_TOKEN_HEADER = "x-portal-internal-token"


def remote_lookup(auth_target: str, internal_token: str) -> Lookup:
    """Asks the auth service over gRPC; an unreachable auth service is UNAVAILABLE, not 401."""
    stub = auth_pb2_grpc.CredentialServiceStub(internal_channel(auth_target))
    metadata = ((INTERNAL_TOKEN_HEADER, internal_token),)

    def lookup(credential_hash: str) -> Principal | None:
        try:
            reply = stub.ResolveCredential(
                auth_pb2.ResolveCredentialRequest(credential_hash=credential_hash), timeout=2, metadata=metadata
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable("the auth service is unavailable; try again shortly") from None
        return principal_from_message(reply)

    return lookup


def remote_credentials(settings) -> "CredentialCache":
    """The credential cache of a service other than auth (its ServiceSettings): a miss asks the
    auth service with the internal credential."""
    return CredentialCache(
        remote_lookup(settings.auth_target, settings.internal_token), ttl_seconds=settings.credential_cache_seconds
    )


class CredentialCache:
    """Remembers what `lookup` answered for `ttl_seconds` (never past the credential's expiry),
    "unknown" included, so that a made-up credential sent again is not asked about again. At most
    `max_entries` are remembered: past that, expired entries go, then the oldest half.

    When an entry expires, one thread per credential asks again while the others wait for its
    answer, instead of all of them asking at once.
    """

    def __init__(self, lookup: Lookup, ttl_seconds: float = 5.0, max_entries: int = 100_000):
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._locks = [threading.Lock() for _ in range(64)]  # a fixed set: random tokens add none

    def _fresh(self, credential_hash: str) -> tuple[Principal | None, float] | None:
        entry = self._cache.get(credential_hash)
        return entry if entry and entry[1] > time.monotonic() else None

    def resolve(self, credential_hash: str) -> Principal | None:
        entry = self._fresh(credential_hash)
        if entry:
            metrics.credential_cache_hit()
            return entry[0]
        with self._locks[hash(credential_hash) % len(self._locks)]:
            entry = self._fresh(credential_hash)  # another thread may just have asked
            if entry:
                metrics.credential_cache_hit()
                return entry[0]
            metrics.credential_cache_miss()
            principal = self._lookup(credential_hash)
            keep = self._ttl
            if principal and principal.expires_at:
                keep = min(keep, (principal.expires_at - now_ms()) / 1000)
            if keep > 0:
                self._remember(credential_hash, principal, time.monotonic() + keep)
            return principal

    def _remember(self, credential_hash: str, principal: Principal | None, until: float) -> None:
        if len(self._cache) >= self._max_entries:
            now = time.monotonic()
            live = [(h, entry) for h, entry in list(self._cache.items()) if entry[1] > now]
            if len(live) >= self._max_entries:
                live = live[len(live) - self._max_entries // 2 :]
            self._cache = dict(live)
        self._cache[credential_hash] = (principal, until)


_BEARER = re.compile(r"Bearer (\S+)")


def bearer_token(context: grpc.ServicerContext) -> str:
    """The credential of `Authorization: Bearer <credential>`, spelled exactly so: the gateway's
    rate limits count per header value, so variants of one credential must not pass."""
    for key, value in context.invocation_metadata():
        if key == "authorization":
            match = _BEARER.fullmatch(value)
            if not match:
                raise Unauthenticated("the Authorization header must be exactly 'Bearer <credential>'")
            return match.group(1)
    raise Unauthenticated("missing Authorization header: send 'Authorization: Bearer <API key or session token>'")


class AuthInterceptor(BehaviorInterceptor):
    """Requires a valid credential on every call of the service's own methods.

    `portal_user_methods` names the methods (short names, e.g. "GetContact") that portal users may
    call; `api_key_methods`, when given, limits what API keys may call. Anything else is 403.
    """

    def __init__(
        self,
        credentials: CredentialCache,
        prefixes: tuple[str, ...],
        *,
        failures: FailureBudget,
        portal_user_methods: frozenset[str] = frozenset(),
        api_key_methods: frozenset[str] | None = None,
    ):
        super().__init__(prefixes)
        self._credentials = credentials
        self._portal_user_methods = portal_user_methods
        self._api_key_methods = api_key_methods
        # Failed authentications per client address: as many as the gateway lets through without
        # a credential (ServiceSettings.auth_failures_per_minute), made-up credentials included.
        self._failures = failures

    def around(self, method, behavior, request, context):
        principal = self._authenticate(context)
        logs.bind_caller(principal.organization_id, principal.credential_id)
        name = method.rpartition("/")[2]
        if principal.is_portal_user and name not in self._portal_user_methods:
            raise PermissionDenied("a portal session cannot use this endpoint; it needs the organization's API key")
        if not principal.is_portal_user and self._api_key_methods is not None and name not in self._api_key_methods:
            raise PermissionDenied("this endpoint takes a portal user's session token, not an API key")
        reset = _current_principal.set(principal)
        try:
            return behavior(request, context)
        finally:
            _current_principal.reset(reset)

    def _authenticate(self, context) -> Principal:
        try:
            token = bearer_token(context)
            principal = None
            if CREDENTIAL_PATTERN.fullmatch(token):
                principal = self._credentials.resolve(hash_credential(token))
            if principal is None:
                raise Unauthenticated("invalid, expired or revoked credential")
            return principal
        except Unauthenticated:
            retry_after = self._failures.spend(client_address(context))
            if retry_after:
                raise RateLimited(
                    "too many requests with a missing or invalid credential from this address; "
                    "retry after the number of seconds in Retry-After",
                    retry_after_seconds=retry_after,
                ) from None
            raise


class InternalCallerInterceptor(BehaviorInterceptor):
    """Lets only callers holding the internal credential use the methods under `prefixes` (such as
    ResolveCredential): reaching a service's port is not enough to ask who owns a credential."""

    def __init__(self, internal_token: str, prefixes: tuple[str, ...]):
        super().__init__(prefixes)
        if not internal_token:
            raise SystemExit("PORTAL_INTERNAL_TOKEN must be set: internal methods need a shared secret")
        self._token = internal_token.encode()

    def around(self, method, behavior, request, context):
        given = dict(context.invocation_metadata()).get(INTERNAL_TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._token):
            raise Unauthenticated("this method is internal: it needs the services' internal credential")
        return behavior(request, context)
