"""Payment connections and events on a real database (SQLite, or PostgreSQL with
PORTAL_TEST_DATABASE): what is stored at rest, the once-per-event index, concurrent deliveries, the
migration, and the key that encrypts the secrets."""

import base64
import hashlib
import hmac
import json
import os
import stat
import threading
import time

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from invoice_factory import an_invoice, lines_of
from sqlalchemy.exc import IntegrityError

from invoicing.adapters.payments_repository import SqlPaymentsUnitOfWork
from invoicing.adapters.tables import payment_connections, payment_events
from invoicing.api.mapping import invoice_view
from invoicing.config import MIGRATIONS
from invoicing.domain.payments import Delivery, StoredEvent
from invoicing.server import new_outbox
from invoicing.service_layer.payments import PaymentsService
from portal_common import db
from portal_common.auth import API_KEY, Principal
from portal_common.sealed_secrets import KEY_ENV, SecretBox, secrets_key

KEY = Principal(kind=API_KEY, organization_id="org", credential_id="key")


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(os.urandom(32))


@pytest.fixture
def uow(engine, box):
    database = db.Database(engine)
    return lambda read_only=False: SqlPaymentsUnitOfWork(database, new_outbox(), invoice_view, box, read_only)


@pytest.fixture
def payments(uow) -> PaymentsService:
    return PaymentsService(uow)


def add_invoice(uow, **fields):
    invoice = an_invoice(lines_of(1, "Work", 1234), id=f"inv_{os.urandom(4).hex()}", organization_id="org", **fields)
    with uow() as work:
        work.invoices.add(invoice)
        work.commit()
    return invoice


def signed(secret: str, body: dict, message_id: str) -> Delivery:
    raw = json.dumps(body).encode()
    t = int(time.time())
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{message_id}.{t}.".encode() + raw, hashlib.sha256).digest())
    headers = {"webhook-id": message_id, "webhook-timestamp": str(t), "webhook-signature": f"v1,{signature.decode()}"}
    return Delivery(headers, raw)


def paying(invoice, ref: str = "t1") -> dict:
    data = {"invoiceId": invoice.id, "amountInCents": 1234, "currency": "EUR", "transactionRef": ref}
    return {"type": "payment.succeeded", "data": data}


def test_tokens_are_stored_as_hashes_and_secrets_encrypted_bound_to_their_connection(engine, payments, uow, box):
    standard = payments.create_connection(KEY, "standard", None)
    stripe = payments.create_connection(KEY, "stripe", "whsec_stripeIntegration0123")
    with engine.connect() as connection:
        rows = {row.id: row for row in connection.execute(sa.select(payment_connections))}
    for created, secret in ((standard, standard.secret), (stripe, "whsec_stripeIntegration0123")):
        row = rows[created.connection.id]
        assert row.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
        assert created.token.encode() not in row.secret and secret.encode() not in row.secret
        assert box.open(row.secret, row.id) == secret
        with pytest.raises(ValueError):
            SecretBox(os.urandom(32)).open(row.secret, row.id)
    # A sealed secret copied onto another connection's row does not open there.
    with engine.begin() as connection:
        connection.execute(
            payment_connections.update()
            .where(payment_connections.c.id == stripe.connection.id)
            .values(secret=rows[standard.connection.id].secret)
        )
    with pytest.raises(ValueError), uow(read_only=True) as work:
        work.payment_connections.get("org", stripe.connection.id)

    payments.revoke_connection(KEY, standard.connection.id)
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(payment_connections).where(payment_connections.c.id == standard.connection.id)
        ).one()
    assert row.secret is None and row.previous_secret is None and row.revoked_at is not None


def test_a_delivery_pays_the_invoice_and_each_event_id_is_stored_once(engine, payments, uow):
    invoice = add_invoice(uow)
    created = payments.create_connection(KEY, "standard", None)
    delivery = signed(created.secret, paying(invoice), "msg_1")
    payments.receive(created.token, delivery)
    payments.receive(created.token, delivery)
    with uow(read_only=True) as work:
        paid = work.invoices.get("org", invoice.id)
        (event,), total = work.payment_events.page(created.connection.id, "", 10, 0)
    assert (paid.status, paid.transaction_ref, paid.payment_method) == ("paid", "t1", "standard") and total == 1
    assert event.status == "applied" and event.payload == delivery.body
    with pytest.raises(IntegrityError), uow() as work:
        work.payment_events.add(StoredEvent(**{**event.__dict__, "id": "pev_other"}))


def test_concurrent_deliveries_of_one_payment_apply_it_once(engine, payments, uow):
    invoice = add_invoice(uow)
    created = payments.create_connection(KEY, "standard", None)
    # The same event twice and two other events of the same payment, all at once.
    deliveries = [signed(created.secret, paying(invoice), message_id) for message_id in ("m1", "m1", "m2", "m3")]
    start, errors = threading.Barrier(len(deliveries)), []

    def deliver(delivery):
        start.wait()
        try:
            payments.receive(created.token, delivery)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(delivery,)) for delivery in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        statuses = sorted(connection.execute(sa.select(payment_events.c.status)).scalars())
    assert statuses == ["applied", "duplicate", "duplicate"]


def test_the_migration_goes_down_and_up_again(databases):
    engine = db.create_engine(databases.new_url("invoicing"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        for revision, upgrade in (("head", True), ("0006", False), ("head", True)):
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                (command.upgrade if upgrade else command.downgrade)(config, revision)
            tables = set(sa.inspect(engine).get_table_names())
            assert {"payment_connections", "payment_events"} <= tables if upgrade else not tables & {"payment_events"}
    finally:
        engine.dispose()


def test_the_secrets_key_is_generated_once_into_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    first = secrets_key(tmp_path / "data")
    assert len(first) == 32 and secrets_key(tmp_path / "data") == first
    assert stat.S_IMODE((tmp_path / "data" / "secrets-key").stat().st_mode) == 0o600
    given = os.urandom(32)
    monkeypatch.setenv(KEY_ENV, base64.urlsafe_b64encode(given).decode().rstrip("="))
    assert secrets_key(tmp_path / "data") == given
    monkeypatch.setenv(KEY_ENV, "too-short")
    with pytest.raises(SystemExit):
        secrets_key(tmp_path / "data")
