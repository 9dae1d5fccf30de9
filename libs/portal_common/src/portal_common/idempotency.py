"""Idempotency keys: a POST sent again with the same `Idempotency-Key` header gets the first answer
again instead of being carried out twice (docs/idempotency.md).

A key belongs to the caller's organization and lives 24 hours in the service's own database (the
`idempotency_keys` table, declared by `idempotency_keys_table` in each service's tables.py). A call
with a key first claims it in a transaction of its own; a concurrent call with the same key then
finds it claimed (409), a call with another request under it is refused (422). The claim is marked
`committed` in the same transaction as the change it protects (SqlUnitOfWork.commit runs the hook
that `committing_with` installs), so a change is made at most once per key even if the process
dies before the answer is stored: a committed claim without a stored answer is never run again. The
answer (the response message and the initial metadata the handler sent, such as the gateway's
HTTP status) is stored when the call returns; a call that fails before committing anything gives
its claim back, so it can be retried with the same key.

Answers may carry what is shown only once (a payment connection's webhook token and signing
secret), so the table holds neither a key nor an answer in the clear: a row is found by a hash of
its organization and key, and its answer is sealed (AES-256-GCM) under another hash of them. Only
a caller presenting the key can read the answer back.

Which methods take keys is read from their `google.api.http` rules: every `post` of the services
an interceptor guards, less the public methods it is told to leave alone.
"""

import base64
import dataclasses
import hashlib
import json
import logging
import os
from typing import Callable

import grpc
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.api import annotations_pb2
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

from portal_common.auth import current_principal
from portal_common.clock import now_ms
from portal_common.db import Database, create_engine
from portal_common.domain_errors import Conflict, InvalidArgument, Unprocessable
from portal_common.interceptors import BehaviorInterceptor
from portal_common.periodic import Periodic
from portal_common.uow import SqlUnitOfWork, committing_with, retry_race

log = logging.getLogger(__name__)

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
MAX_KEY_LENGTH = 255
KEEP_MS = 24 * 3600 * 1000
# How long a claim stays another call's while its call runs. Past it, the call is taken for dead
# (its process stopped before committing) and the next call with the key runs instead. Calls end
# well within it (the gateway's timeouts are 5 to 30 s); one that outlives it anyway cannot commit
# (its claim's token no longer matches), so a key still changes things at most once.
LEASE_MS = 60_000
PURGE_INTERVAL_SECONDS = 600
PURGE_BATCH = 1000

IN_PROGRESS, COMMITTED, DONE = "in_progress", "committed", "done"


def _columns_v1() -> list[sa.Column]:
    """The table's columns as first released (create_table_v1 must keep creating these)."""
    return [
        sa.Column("organization_id", sa.String(40), primary_key=True),
        # sha256 of the organization and the key (KeyRef): the key itself is not stored.
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("method", sa.String(200), nullable=False),
        # sha256 of the method and the request's deterministic serialization (request_fingerprint).
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        # The token of the call that holds the claim: only it may commit under the key.
        sa.Column("claim", sa.String(32), nullable=False),
        sa.Column("lease_expires_at", sa.BigInteger, nullable=False),
        # The answer, once stored (state "done"), sealed under the key (KeyRef.seal): the
        # serialized response message and the initial metadata the handler sent.
        sa.Column("answer", sa.LargeBinary),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    ]


def idempotency_keys_table(metadata: sa.MetaData) -> sa.Table:
    """The `idempotency_keys` table in a service's metadata (its migrations create the same)."""
    return sa.Table("idempotency_keys", metadata, *_columns_v1(), sa.Index("idempotency_keys_expiry", "expires_at"))


def create_table_v1(op) -> None:
    """The migration step that creates `idempotency_keys` as first released, which each service's
    migration runs (`op` is alembic.op). It is history: a later change of the table is a new step
    here and a new migration in each service, never a change of this one."""
    op.create_table("idempotency_keys", *_columns_v1())
    op.create_index("idempotency_keys_expiry", "idempotency_keys", ["expires_at"])


def request_fingerprint(method: str, request: Message) -> str:
    """What makes two calls the same request: the method and every field of the request message
    (path parameters and body; JSON object keys in any order, as Struct maps serialize sorted)."""
    digest = hashlib.sha256(method.encode())
    digest.update(b"\0")
    digest.update(request.SerializeToString(deterministic=True))
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Answer:
    """A stored answer: the serialized response and the initial metadata sent with it."""

    response: bytes
    metadata: tuple[tuple[str, str], ...]

    def to_bytes(self) -> bytes:
        return json.dumps({"metadata": self.metadata, "response": base64.b64encode(self.response).decode()}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Answer":
        stored = json.loads(data)
        return cls(base64.b64decode(stored["response"]), tuple((name, value) for name, value in stored["metadata"]))


@dataclasses.dataclass(frozen=True)
class KeyRef:
    """A caller's key as the table knows it: a hash to find its row, and a cipher key derived
    from the key for its answer, which only the caller's key gives back."""

    organization_id: str
    key_hash: str
    _cipher_key: bytes = dataclasses.field(repr=False)

    @classmethod
    def of(cls, organization_id: str, key: str) -> "KeyRef":
        scoped = f"{organization_id}\0{key}".encode()
        return cls(
            organization_id,
            hashlib.sha256(b"portal idempotency key\0" + scoped).hexdigest(),
            hashlib.sha256(b"portal idempotency answer\0" + scoped).digest(),
        )

    def seal(self, answer: Answer) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._cipher_key).encrypt(nonce, answer.to_bytes(), self.key_hash.encode())

    def open(self, sealed: bytes) -> Answer:
        return Answer.from_bytes(AESGCM(self._cipher_key).decrypt(sealed[:12], sealed[12:], self.key_hash.encode()))


@dataclasses.dataclass(frozen=True)
class Claim:
    """A key this call holds: its token proves it when committing and storing the answer."""

    key: KeyRef
    token: str


class _KeysUnitOfWork(SqlUnitOfWork):
    """A transaction of the keys' own, apart from the calls' changes."""

    def open(self, connection: sa.Connection) -> None:
        self.keys = connection


class IdempotencyKeys:
    """The keys of one service, in its database."""

    def __init__(
        self,
        database: Database,
        table: sa.Table,
        clock: Callable[[], int] = now_ms,
        keep_ms: int = KEEP_MS,
        lease_ms: int = LEASE_MS,
    ):
        self._database = database
        self._table = table
        self._clock = clock
        self._keep_ms = keep_ms
        self._lease_ms = lease_ms

    def claim(self, organization_id: str, key: str, method: str, fingerprint: str) -> Claim | Answer:
        """Takes the key for this call, or answers with what the key already holds: the stored
        answer of the same request; a 422 for another request; a 409 while it runs or when it
        committed without storing its answer. An expired key counts as absent."""
        ref = KeyRef.of(organization_id, key)
        return retry_race(lambda: self._claim_once(ref, method, fingerprint))

    def _claim_once(self, ref: KeyRef, method: str, fingerprint: str) -> Claim | Answer:
        table = self._table
        with _KeysUnitOfWork(self._database) as uow:
            connection = uow.keys
            now = self._clock()
            row = connection.execute(sa.select(table).where(self._where(ref)).with_for_update()).first()
            token = os.urandom(16).hex()
            fresh = {
                "method": method,
                "fingerprint": fingerprint,
                "state": IN_PROGRESS,
                "claim": token,
                "lease_expires_at": now + self._lease_ms,
                "answer": None,
                "created_at": now,
                "expires_at": now + self._keep_ms,
            }
            if row is None:
                connection.execute(
                    table.insert().values(organization_id=ref.organization_id, key_hash=ref.key_hash, **fresh)
                )
            elif row.expires_at <= now:
                connection.execute(table.update().where(self._where(ref)).values(**fresh))
            else:
                if _still_live(row, method, fingerprint, now):
                    return ref.open(bytes(row.answer))
                # Its call died before committing anything (its lease ran out): this call runs
                # instead, under a new token, so the old call can no longer commit.
                taken_over = {"claim": token, "lease_expires_at": now + self._lease_ms}
                connection.execute(table.update().where(self._where(ref)).values(**taken_over))
            uow.commit()
        return Claim(ref, token)

    def mark_committed(self, connection: sa.Connection, claim: Claim) -> None:
        """Inside the transaction that makes the call's change: marks the key used, or refuses the
        commit when the claim is no longer this call's (another call took it over)."""
        marked = connection.execute(
            self._table.update()
            .where(self._where(claim.key), self._table.c.claim == claim.token)
            .values(state=COMMITTED)
        )
        if marked.rowcount != 1:
            raise Conflict(
                "another request with this Idempotency-Key took over while this one was running; "
                "nothing was changed by this one",
                reason="IDEMPOTENCY_KEY_IN_USE",
            )

    def complete(self, claim: Claim, answer: Answer) -> None:
        """Stores the answer of a call that succeeded, for the calls that repeat it."""
        with _KeysUnitOfWork(self._database) as uow:
            uow.keys.execute(
                self._table.update()
                .where(self._where(claim.key), self._table.c.claim == claim.token)
                .values(state=DONE, answer=claim.key.seal(answer))
            )
            uow.commit()

    def release(self, claim: Claim) -> None:
        """Gives the key back after a call that failed without committing, so it can be retried."""
        with _KeysUnitOfWork(self._database) as uow:
            uow.keys.execute(
                self._table.delete().where(
                    self._where(claim.key),
                    self._table.c.claim == claim.token,
                    self._table.c.state == IN_PROGRESS,
                )
            )
            uow.commit()

    def purge(self, batch: int = PURGE_BATCH) -> int:
        """Deletes expired keys, `batch` at a time (one short transaction each); returns how many."""
        table = self._table
        purged = 0
        while True:
            with _KeysUnitOfWork(self._database) as uow:
                expired = sa.select(table.c.organization_id, table.c.key_hash).where(
                    table.c.expires_at <= self._clock()
                )
                keys = uow.keys.execute(expired.limit(batch)).all()
                if keys:
                    one = sa.and_(
                        table.c.organization_id == sa.bindparam("organization"),
                        table.c.key_hash == sa.bindparam("expired_key"),
                    )
                    uow.keys.execute(
                        table.delete().where(one), [{"organization": org, "expired_key": key} for org, key in keys]
                    )
                uow.commit()
            purged += len(keys)
            if len(keys) < batch:
                return purged

    def _where(self, ref: KeyRef) -> sa.ColumnElement[bool]:
        return sa.and_(self._table.c.organization_id == ref.organization_id, self._table.c.key_hash == ref.key_hash)


def expired_keys_purge(database_url: str, table: sa.Table) -> Periodic:
    """The background job of a service's main() that deletes its expired keys (lookups already
    ignore them), every PURGE_INTERVAL_SECONDS."""
    # An engine of its own: main() starts it apart from the servers, whose engines it cannot see.
    keys = IdempotencyKeys(Database(create_engine(database_url)), table)
    return Periodic("expired idempotency keys", PURGE_INTERVAL_SECONDS, keys.purge)


def _still_live(row, method: str, fingerprint: str, now: int) -> bool:
    """True when the key holds the answer to this very request; False when its call died before
    committing (its lease ran out), so that this call may take it over; else the error to answer."""
    if row.fingerprint != fingerprint:
        used_for = "another endpoint" if row.method != method else "a different request body"
        raise Unprocessable(
            f"this Idempotency-Key was already used for {used_for} in the last 24 hours; "
            "send the same request again, or use a new key for a new request",
            reason="IDEMPOTENCY_KEY_REUSED",
        )
    if row.state == DONE:
        return True
    if row.lease_expires_at > now:  # its call runs (committed: it is storing its answer)
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry after it has finished",
            reason="IDEMPOTENCY_KEY_IN_USE",
            retry_after_seconds=1,
        )
    if row.state == COMMITTED:
        raise Conflict(
            "the request with this Idempotency-Key was carried out, but its answer was lost (the service "
            "stopped before sending it); it will not be carried out again: read the result back (a list "
            "or a GET), or use a new key",
            reason="IDEMPOTENCY_KEY_ANSWER_LOST",
        )
    return False


def idempotency_key(context: grpc.ServicerContext) -> str | None:
    """The call's Idempotency-Key, None without one; a 400 when it is not a valid key."""
    given = [value for name, value in context.invocation_metadata() if name == HEADER]
    if not given:
        return None
    if len(given) > 1:
        raise InvalidArgument("the Idempotency-Key header is given more than once", reason="INVALID_IDEMPOTENCY_KEY")
    key = given[0]
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidArgument(
            f"the Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            reason="INVALID_IDEMPOTENCY_KEY",
        )
    return key


def takes_keys(method: str) -> bool:
    """Whether `method` ("/pkg.Service/Method") takes idempotency keys: it has a `post` HTTP rule,
    in any binding."""
    service_name, _, method_name = method.lstrip("/").rpartition("/")
    try:
        descriptor = descriptor_pool.Default().FindServiceByName(service_name).methods_by_name[method_name]
    except KeyError:
        return False
    rule = descriptor.GetOptions().Extensions[annotations_pb2.http]
    return any(binding.post for binding in (rule, *rule.additional_bindings))


class _RecordingContext:
    """The servicer context, remembering the initial metadata the handler sends (the answer's
    HTTP status, for one), so that a replay sends it again."""

    def __init__(self, context: grpc.ServicerContext):
        self._context = context
        self.sent: tuple[tuple[str, str], ...] = ()

    def send_initial_metadata(self, metadata) -> None:
        self.sent = tuple((name, value) for name, value in metadata)
        self._context.send_initial_metadata(metadata)

    def __getattr__(self, name: str):
        return getattr(self._context, name)


class IdempotencyInterceptor(BehaviorInterceptor):
    """Serves the Idempotency-Key header on the POST methods under `prefixes`, except the
    `public_methods` (full names: they have no caller organization to scope a key). It runs after
    AuthInterceptor, whose principal's organization scopes the keys."""

    def __init__(self, keys: IdempotencyKeys, prefixes: tuple[str, ...], public_methods: frozenset[str] = frozenset()):
        super().__init__(prefixes)
        self._keys = keys
        self._public = public_methods
        self._keyed: dict[str, bool] = {}

    def around(self, method, behavior, request, context):
        if method not in self._keyed:
            self._keyed[method] = method not in self._public and takes_keys(method)
        key = idempotency_key(context) if self._keyed[method] else None
        if key is None:
            return behavior(request, context)
        claimed = self._keys.claim(
            current_principal().organization_id, key, method, request_fingerprint(method, request)
        )
        if isinstance(claimed, Answer):
            context.send_initial_metadata((*claimed.metadata, (REPLAYED_HEADER, "true")))
            # The stored bytes themselves: a message parsed and serialized again may order its
            # map entries (a Struct's keys) otherwise, and the replay must be byte for byte.
            return claimed.response
        recording = _RecordingContext(context)
        try:
            with committing_with(lambda connection: self._keys.mark_committed(connection, claimed)):
                response = behavior(request, recording)
        except BaseException:
            self._give_back(claimed)
            raise
        answer = Answer(response.SerializeToString(), recording.sent)
        self._store(claimed, answer)
        return answer.response

    def _give_back(self, claim: Claim) -> None:
        try:
            self._keys.release(claim)
        except Exception:  # the call's own error matters more; the claim's lease runs out anyway
            log.exception("could not release an idempotency key of %s", claim.key.organization_id)

    def _store(self, claim: Claim, answer: Answer) -> None:
        # The change is committed: the call answers as it succeeded even if its answer cannot be
        # stored (a repeat then gets 409 IDEMPOTENCY_KEY_ANSWER_LOST rather than a second change).
        try:
            self._keys.complete(claim, answer)
        except Exception:
            log.exception("could not store the answer under an idempotency key of %s", claim.key.organization_id)
