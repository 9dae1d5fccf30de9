"""Idempotency keys without a server: what makes two requests the same, which keys are valid, which
methods take them, and the claim/commit/answer cycle of the keys' table on a real database
(SQLite, or PostgreSQL with PORTAL_TEST_DATABASE)."""

import threading

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from google.protobuf import struct_pb2

from portal.crm.v1 import crm_pb2
from portal.invoicing.v1 import invoicing_pb2
from portal.projects.v1 import projects_pb2  # noqa: F401  (registers ProjectsService's descriptors)
from portal_common import db
from portal_common.domain_errors import Conflict, InvalidArgument, Unprocessable
from portal_common.idempotency import (
    COMMITTED,
    DONE,
    IN_PROGRESS,
    Answer,
    Claim,
    IdempotencyKeys,
    KeyRef,
    idempotency_key,
    idempotency_keys_table,
    request_fingerprint,
    takes_keys,
)
from portal_common.uow import SqlUnitOfWork, committing_with

CREATE_INVOICE = "/portal.invoicing.v1.InvoicingService/CreateInvoice"
UPSERT_CONTACT = "/portal.crm.v1.CrmService/UpsertContact"
ANSWER = Answer(b"\x0a\x03inv", (("x-portal-http-status", "201"),))


def _upsert(body: dict) -> crm_pb2.UpsertContactRequest:
    contact = struct_pb2.Struct()
    contact.update(body)
    return crm_pb2.UpsertContactRequest(contact=contact)


# What makes two requests the same


def test_the_same_json_object_in_another_key_order_is_the_same_request():
    first = _upsert({"email": "a@x.io", "firstName": "A", "customFields": {"x": 1, "y": [1, 2]}})
    second = _upsert({"customFields": {"y": [1, 2], "x": 1}, "firstName": "A", "email": "a@x.io"})
    assert request_fingerprint(UPSERT_CONTACT, first) == request_fingerprint(UPSERT_CONTACT, second)


def test_another_value_another_path_parameter_or_another_method_is_another_request():
    base = request_fingerprint(UPSERT_CONTACT, _upsert({"email": "a@x.io"}))
    assert request_fingerprint(UPSERT_CONTACT, _upsert({"email": "b@x.io"})) != base
    assert request_fingerprint(UPSERT_CONTACT, _upsert({"email": "a@x.io", "tags": []})) != base
    assert request_fingerprint("/portal.crm.v1.CrmService/CreateContactFromEvent", _upsert({"email": "a@x.io"})) != base
    send = "/portal.invoicing.v1.InvoicingService/SendInvoice"
    assert request_fingerprint(send, invoicing_pb2.SendInvoiceRequest(invoice_id="inv_1")) != request_fingerprint(
        send, invoicing_pb2.SendInvoiceRequest(invoice_id="inv_2")
    )


# Which keys are valid


class _Metadata:
    def __init__(self, *values: str):
        self._metadata = [("authorization", "Bearer x"), *(("idempotency-key", value) for value in values)]

    def invocation_metadata(self):
        return self._metadata


@pytest.mark.parametrize("key", ["a", "k" * 255, "8c5a1e0c-7d3f-4f5e-9a39-2b1d0f6a7c11", "order 42/retry"])
def test_a_key_of_1_to_255_printable_characters_is_taken_as_given(key):
    assert idempotency_key(_Metadata(key)) == key


def test_no_key_is_none():
    assert idempotency_key(_Metadata()) is None


@pytest.mark.parametrize("values", [("",), ("k" * 256,), ("tab\there",), ("caf\u00e9",), ("a", "b")])
def test_an_empty_long_unprintable_or_repeated_key_is_refused_naming_the_header(values):
    with pytest.raises(InvalidArgument) as refused:
        idempotency_key(_Metadata(*values))
    assert "Idempotency-Key" in refused.value.message and refused.value.reason == "INVALID_IDEMPOTENCY_KEY"


# Which methods take keys: every POST rule, read from the descriptors


def test_post_methods_take_keys():
    assert takes_keys(CREATE_INVOICE)
    assert takes_keys("/portal.invoicing.v1.InvoicingService/CancelInvoice")
    assert takes_keys(UPSERT_CONTACT)
    assert takes_keys("/portal.projects.v1.ProjectsService/ArchiveProject")


@pytest.mark.parametrize(
    "method",
    [
        "/portal.invoicing.v1.InvoicingService/GetInvoice",  # GET
        "/portal.invoicing.v1.InvoicingService/UpdateInvoice",  # PATCH
        "/portal.projects.v1.ProjectsService/DeleteProject",  # DELETE
        "/portal.crm.v1.CrmService/FindContactByEmail",  # no HTTP rule
        "/portal.crm.v1.CrmService/NoSuchMethod",
        "/no.such.Service/Method",
    ],
)
def test_other_methods_do_not(method):
    assert not takes_keys(method)


# The keys' table


class Clock:
    def __init__(self):
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


metadata = sa.MetaData()
keys_table = idempotency_keys_table(metadata)
things = sa.Table("things", metadata, sa.Column("id", sa.String(10), primary_key=True))


class ThingsUnitOfWork(SqlUnitOfWork):
    def open(self, connection):
        self.things = connection


@pytest.fixture
def database(databases):
    engine = db.create_engine(databases.new_url("idempotency"))
    metadata.create_all(engine)
    yield db.Database(engine)
    engine.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def keys(database, clock):
    return IdempotencyKeys(database, keys_table, clock=clock, keep_ms=10_000, lease_ms=1_000)


def _claim(keys: IdempotencyKeys, key: str = "k1", organization: str = "org_a", fingerprint: str = "f1"):
    return keys.claim(organization, key, CREATE_INVOICE, fingerprint)


def _row(database, key: str = "k1", organization: str = "org_a"):
    ref = KeyRef.of(organization, key)
    with database.read() as connection:
        return connection.execute(
            sa.select(keys_table).where(
                keys_table.c.organization_id == organization, keys_table.c.key_hash == ref.key_hash
            )
        ).first()


def _things(database) -> int:
    with database.read() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(things)).scalar_one()


def _write_thing(database, keys: IdempotencyKeys, claim: Claim, thing: str = "t1") -> None:
    """A use case's one unit of work, made under the key, as the interceptor runs it."""
    with committing_with(lambda connection: keys.mark_committed(connection, claim)):
        with ThingsUnitOfWork(database) as uow:
            uow.things.execute(things.insert().values(id=thing))
            uow.commit()


def test_a_key_is_claimed_committed_with_the_change_then_answers_again(database, keys):
    claim = _claim(keys)
    assert isinstance(claim, Claim) and _row(database).state == IN_PROGRESS
    _write_thing(database, keys, claim)
    assert _row(database).state == COMMITTED and _things(database) == 1
    keys.complete(claim, ANSWER)
    assert _row(database).state == DONE
    assert _claim(keys) == ANSWER
    assert _claim(keys) == ANSWER  # as often as it is asked


def test_while_its_call_runs_the_same_request_gets_409_and_another_request_422(keys):
    assert isinstance(_claim(keys), Claim)
    with pytest.raises(Conflict) as in_use:
        _claim(keys)
    assert in_use.value.reason == "IDEMPOTENCY_KEY_IN_USE" and in_use.value.retry_after_seconds == 1
    with pytest.raises(Unprocessable) as reused:
        _claim(keys, fingerprint="f2")
    assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED" and "different request body" in reused.value.message


def test_an_answered_key_refuses_another_request_or_endpoint_with_422(keys):
    claim = _claim(keys)
    keys.complete(claim, ANSWER)
    with pytest.raises(Unprocessable, match="different request body"):
        _claim(keys, fingerprint="f2")
    with pytest.raises(Unprocessable, match="another endpoint"):
        keys.claim("org_a", "k1", UPSERT_CONTACT, "f3")


def test_neither_the_key_nor_the_answer_is_stored_in_the_clear(database, keys):
    secret = Answer(b"whsec_shown_once_1234567890", (("x-portal-http-status", "201"),))
    keys.complete(_claim(keys, key="key-visible-to-the-client"), secret)
    row = _row(database, key="key-visible-to-the-client")
    assert b"whsec_" not in bytes(row.answer) and b"201" not in bytes(row.answer)
    assert "key-visible" not in "".join(str(value) for value in row)
    assert _claim(keys, key="key-visible-to-the-client") == secret
    sealed_for_another_key = KeyRef.of("org_a", "k2")
    with pytest.raises(InvalidTag):  # another key opens nothing
        sealed_for_another_key.open(bytes(row.answer))


def test_keys_belong_to_an_organization(keys):
    keys.complete(_claim(keys), ANSWER)
    assert isinstance(_claim(keys, organization="org_b", fingerprint="f2"), Claim)


def test_a_failed_call_gives_its_key_back_and_a_retry_runs(database, keys):
    claim = _claim(keys)
    keys.release(claim)
    assert _row(database) is None
    assert isinstance(_claim(keys, fingerprint="f2"), Claim)  # even with a corrected body


def test_a_rolled_back_change_leaves_no_committed_claim(database, keys):
    claim = _claim(keys)
    assert isinstance(claim, Claim)
    with pytest.raises(ZeroDivisionError):
        with committing_with(lambda connection: keys.mark_committed(connection, claim)):
            with ThingsUnitOfWork(database) as uow:
                uow.things.execute(things.insert().values(id="t1"))
                raise ZeroDivisionError("the use case fails before committing")
    assert _row(database).state == IN_PROGRESS and _things(database) == 0
    keys.release(claim)
    assert _row(database) is None


def test_a_key_committed_without_an_answer_is_never_run_again(database, keys, clock):
    _write_thing(database, keys, _claim(keys))
    with pytest.raises(Conflict) as storing:  # its call is storing its answer: retry shortly
        _claim(keys)
    assert storing.value.reason == "IDEMPOTENCY_KEY_IN_USE"
    clock.now += 5_000  # its lease long over: the process stopped before storing the answer
    with pytest.raises(Conflict) as lost:
        _claim(keys)
    assert lost.value.reason == "IDEMPOTENCY_KEY_ANSWER_LOST" and _things(database) == 1
    keys.release(_row_claim(database))  # releasing does not undo a committed claim
    assert _row(database).state == COMMITTED


def _row_claim(database) -> Claim:
    return Claim(KeyRef.of("org_a", "k1"), _row(database).claim)


def test_a_claim_whose_lease_ran_out_is_taken_over_and_the_old_call_cannot_commit(database, keys, clock):
    stalled = _claim(keys)
    assert isinstance(stalled, Claim)
    with pytest.raises(Conflict):
        _claim(keys)
    clock.now += 1_001
    taken_over = _claim(keys)
    assert isinstance(taken_over, Claim) and taken_over.token != stalled.token
    with pytest.raises(Conflict, match="took over"):
        _write_thing(database, keys, stalled, "stalled")
    assert _things(database) == 0  # the refused commit rolled its change back
    _write_thing(database, keys, taken_over)
    keys.release(stalled)  # the stalled call fails: it must not free the key of the one that runs
    assert _things(database) == 1 and _row(database).state == COMMITTED


def test_an_expired_key_counts_as_absent_and_is_purged(database, keys, clock):
    keys.complete(_claim(keys), ANSWER)
    clock.now += 10_000
    assert isinstance(_claim(keys, fingerprint="f2"), Claim)  # a new request under the old key
    for number in range(5):
        keys.complete(_claim(keys, key=f"old{number}"), ANSWER)
    clock.now += 9_999
    keys.complete(_claim(keys, key="recent"), ANSWER)
    clock.now += 2
    assert keys.purge(batch=2) == 6  # k1 and old0..old4, two at a time
    with database.read() as connection:
        assert connection.execute(sa.select(keys_table.c.key_hash)).scalars().all() == [
            KeyRef.of("org_a", "recent").key_hash
        ]


def test_concurrent_calls_with_one_key_claim_it_once(database, keys):
    outcomes: list[object] = []
    start = threading.Barrier(8)

    def call():
        start.wait()
        try:
            outcomes.append(_claim(keys))
        except Conflict as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(outcome, Claim) for outcome in outcomes) == 1
    assert outcomes.count("IDEMPOTENCY_KEY_IN_USE") == 7
