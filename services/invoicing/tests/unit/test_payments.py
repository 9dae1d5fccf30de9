"""Payment webhooks without a database: the two signature schemes, rotation, what an event says and
whether it pays an invoice (domain/payments.py), and the use cases on a unit of work in memory."""

import base64
import copy
import datetime
import hashlib
import hmac
import json

import pytest
from fake_unit_of_work import FakeUnitOfWork
from invoice_factory import an_invoice, lines_of
from standardwebhooks.webhooks import Webhook

from invoicing.domain.payments import (
    ROTATION_OVERLAP_MS,
    Delivery,
    Payment,
    PaymentConnection,
    SignatureError,
    StoredEvent,
    apply_payment,
    parse_body,
    read_event,
    verify_standard,
    verify_stripe,
)
from invoicing.service_layer.payments import MAX_ACTIVE_CONNECTIONS, PaymentsService
from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.standard_webhooks import new_secret as new_standard_secret

NOW_S = 1_767_225_600  # 2026-01-01, in seconds
NOW = NOW_S * 1000
SECRET = "whsec_stripeUnitSecret0123456789"
BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
KEY = Principal(kind=API_KEY, organization_id="org", credential_id="key")


def stripe_v1(secret: str, t: int, body: bytes) -> str:
    """Stripe's formula, written out: hex HMAC-SHA256 of "{t}.{body}" keyed with the whole secret."""
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


# Stripe


def test_stripe_accepts_any_matching_v1_within_the_tolerance():
    good = stripe_v1(SECRET, NOW_S, BODY)
    verify_stripe(f"t={NOW_S},v1={good}", BODY, [SECRET], NOW_S)
    verify_stripe(f"t={NOW_S},v1={'0' * 64},v0=x,v1={good}", BODY, [SECRET], NOW_S)
    for skew in (-300, 300):
        t = NOW_S + skew
        verify_stripe(f"t={t},v1={stripe_v1(SECRET, t, BODY)}", BODY, [SECRET], NOW_S)


@pytest.mark.parametrize(
    ("header", "body", "reason"),
    [
        (None, BODY, "MISSING_SIGNATURE"),
        ("", BODY, "MISSING_SIGNATURE"),
        (f"v1={stripe_v1(SECRET, NOW_S, BODY)}", BODY, "BAD_SIGNATURE"),  # no t
        (f"t={NOW_S}", BODY, "BAD_SIGNATURE"),  # no v1
        (f"t=abc,v1={stripe_v1(SECRET, NOW_S, BODY)}", BODY, "BAD_SIGNATURE"),
        (f"t=1²,v1={stripe_v1(SECRET, NOW_S, BODY)}", BODY, "BAD_SIGNATURE"),  # a digit, not an ASCII one
        (f"t={NOW_S},v1={stripe_v1('whsec_other', NOW_S, BODY)}", BODY, "BAD_SIGNATURE"),
        (f"t={NOW_S},v1={stripe_v1(SECRET, NOW_S, BODY)}", BODY + b"\n", "BAD_SIGNATURE"),
        (f"t={NOW_S},v1={stripe_v1(SECRET, NOW_S, BODY)}", BODY.replace(b"1", b"2"), "BAD_SIGNATURE"),
        (f"t={NOW_S - 301},v1={stripe_v1(SECRET, NOW_S - 301, BODY)}", BODY, "STALE_TIMESTAMP"),
        (f"t={NOW_S + 301},v1={stripe_v1(SECRET, NOW_S + 301, BODY)}", BODY, "STALE_TIMESTAMP"),
    ],
)
def test_stripe_refuses(header, body, reason):
    with pytest.raises(SignatureError) as refused:
        verify_stripe(header, body, [SECRET], NOW_S)
    assert refused.value.reason == reason


def test_stripe_signs_with_the_whole_secret_string():
    """Stripe keys the HMAC with "whsec_..." as text, not with a decoded key."""
    key = base64.b64encode(b"k" * 24).decode()
    secret = "whsec_" + key
    decoded = hmac.new(base64.b64decode(key), f"{NOW_S}.".encode() + BODY, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError):
        verify_stripe(f"t={NOW_S},v1={decoded}", BODY, [secret], NOW_S)


# Standard Webhooks


def standard(secret: str, body: bytes, message_id: str = "msg_1", t: int = NOW_S) -> Delivery:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{message_id}.{t}.".encode() + body, hashlib.sha256).digest())
    return Delivery(
        {"webhook-id": message_id, "webhook-timestamp": str(t), "webhook-signature": f"v1,{signature.decode()}"}, body
    )


def test_standard_verifies_the_formula_and_the_librarys_signature():
    secret = new_standard_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    delivery = standard(secret, BODY)
    assert verify_standard(delivery, [secret], NOW_S) == "msg_1"
    signed = Webhook(secret).sign("msg_1", datetime.datetime.fromtimestamp(NOW_S, datetime.UTC), BODY.decode())
    assert signed == delivery.headers["webhook-signature"]
    # And the library accepts what the formula signed (its clock is now: a fresh timestamp).
    fresh = standard(secret, BODY, t=int(datetime.datetime.now().timestamp()))
    assert Webhook(secret).verify(BODY, fresh.headers) == json.loads(BODY)


def test_standard_takes_any_v1_of_a_space_separated_list():
    secret, other = new_standard_secret(), new_standard_secret()
    good = standard(secret, BODY).headers["webhook-signature"]
    bad = standard(other, BODY).headers["webhook-signature"]
    headers = dict(standard(secret, BODY).headers, **{"webhook-signature": f"{bad} v1a,{good[3:]} v1,!!! {good}"})
    assert verify_standard(Delivery(headers, BODY), [secret], NOW_S) == "msg_1"
    headers["webhook-signature"] = f"{bad} v1a,{good[3:]}"
    with pytest.raises(SignatureError):
        verify_standard(Delivery(headers, BODY), [secret], NOW_S)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-id": ""}, "MISSING_SIGNATURE"),
        ({"webhook-signature": ""}, "MISSING_SIGNATURE"),
        ({"webhook-timestamp": str(NOW_S - 301)}, "STALE_TIMESTAMP"),
        ({"webhook-timestamp": "1e9"}, "BAD_SIGNATURE"),
        ({"webhook-id": "msg_2"}, "BAD_SIGNATURE"),  # the id is signed too
    ],
)
def test_standard_refuses(change, reason):
    secret = new_standard_secret()
    delivery = standard(secret, BODY)
    with pytest.raises(SignatureError) as refused:
        verify_standard(Delivery({**delivery.headers, **change}, BODY), [secret], NOW_S)
    assert refused.value.reason == reason


# Rotation and revocation


def a_connection(provider: str = "standard", secret: str | None = None) -> PaymentConnection:
    return PaymentConnection(
        id="pcn_1",
        organization_id="org",
        provider=provider,
        token_hash="h",
        token_hint="abcd",
        secret=secret or new_standard_secret(),
        created_at=0,
    )


def test_a_rotated_secret_verifies_for_24_hours_and_a_second_rotation_drops_it():
    connection = a_connection()
    first = connection.secret
    connection.rotate("whsec_" + base64.b64encode(b"2" * 32).decode(), NOW)
    second = connection.secret
    assert connection.verifying_secrets(NOW) == [second, first]
    assert connection.verifying_secrets(NOW + ROTATION_OVERLAP_MS - 1) == [second, first]
    assert connection.verifying_secrets(NOW + ROTATION_OVERLAP_MS) == [second]
    for secret in (first, second):
        assert connection.verify(standard(secret, BODY), NOW) == "msg_1"
    with pytest.raises(SignatureError):
        connection.verify(standard(first, BODY, t=NOW_S + 86_400), NOW + ROTATION_OVERLAP_MS)
    connection.rotate(new_standard_secret(), NOW + 1)
    assert first not in connection.verifying_secrets(NOW + 1)


def test_a_revoked_connection_keeps_no_secret_and_cannot_rotate():
    connection = a_connection()
    connection.rotate(new_standard_secret(), NOW)
    connection.revoke(NOW + 5)
    connection.revoke(NOW + 9)
    assert (connection.status, connection.revoked_at, connection.verifying_secrets(NOW)) == ("revoked", NOW + 5, [])
    assert connection.secret is None and connection.previous_secret is None
    with pytest.raises(Conflict):
        connection.rotate(new_standard_secret(), NOW)


# What an event says


def stripe_body(kind: str = "payment_intent.succeeded", **changes) -> dict:
    found = {"id": "pi_1", "amount_received": 1234, "currency": "eur", "metadata": {"invoiceId": "inv_1"}}
    if kind.startswith("checkout."):
        found = {
            "id": "cs_1",
            "amount_total": 1234,
            "currency": "eur",
            "payment_intent": "pi_1",
            "payment_status": "paid",
            "metadata": {"invoiceId": "inv_1"},
        }
    found.update(changes)
    return {"id": "evt_1", "type": kind, "created": NOW_S, "data": {"object": found}}


@pytest.mark.parametrize("kind", ["payment_intent.succeeded", "checkout.session.completed"])
def test_stripe_payment_events_name_the_invoice_amount_currency_and_payment_intent(kind):
    event = read_event("stripe", "", stripe_body(kind), received_at=1)
    assert (event.provider_event_id, event.type, event.problem) == ("evt_1", kind, None)
    assert event.payment == Payment("inv_1", 1234, "EUR", "pi_1", "stripe", NOW)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (stripe_body("checkout.session.completed", payment_status="unpaid"), "not paid yet"),
        (stripe_body(amount_received=12.5), "whole number"),
        (stripe_body(amount_received=True), "whole number"),
        (stripe_body(amount_received=-1), "whole number"),
        (stripe_body(currency="euro"), "currency"),
        (stripe_body(metadata={}), "no invoice"),
        (stripe_body(metadata={"invoiceId": "x" * 41}), "no invoice"),
        (stripe_body(metadata={"invoiceId": "inv\x00"}), "no invoice"),
        ({**stripe_body(), "created": "yesterday"}, "malformed"),
    ],
)
def test_stripe_payment_events_that_cannot_pay_say_why(body, problem):
    event = read_event("stripe", "", body, received_at=1)
    assert event.problem and problem in event.problem


def test_other_events_describe_no_payment_and_malformed_ones_are_refused():
    assert read_event("stripe", "", {"id": "evt_2", "type": "charge.refunded"}, 1).payment is None
    assert read_event("standard", "msg_1", {"type": "payment.failed", "data": {}}, 1).payment is None
    for provider, message_id, body in (
        ("stripe", "", {"type": "payment_intent.succeeded"}),
        ("stripe", "", {"id": "evt_3", "type": 7}),
        ("standard", "msg_1", {"data": {}}),
        ("standard", "", {"type": "payment.succeeded"}),
        ("standard", "msg\n", {"type": "payment.succeeded"}),
    ):
        with pytest.raises(InvalidArgument) as refused:
            read_event(provider, message_id, body, 1)
        assert refused.value.reason == "MALFORMED_EVENT"


def test_a_standard_payment_event_reads_its_documented_fields():
    data = {"invoiceId": "inv_1", "amountInCents": 99, "currency": "jpy", "transactionRef": "t1", "paidAt": 5}
    event = read_event("standard", "msg_1", {"type": "payment.succeeded", "data": {**data, "paymentMethod": "sepa"}}, 7)
    assert event.payment == Payment("inv_1", 99, "JPY", "t1", "sepa", 5) and event.problem is None
    # paymentMethod and paidAt are optional; transactionRef is not.
    event = read_event("standard", "msg_1", {"type": "payment.succeeded", "data": {**data, "paidAt": None}}, 7)
    assert event.problem and "paidAt" in event.problem
    del data["paidAt"]
    assert read_event("standard", "msg_1", {"type": "payment.succeeded", "data": data}, 7).payment.paid_at == 7
    del data["transactionRef"]
    assert "reference" in read_event("standard", "msg_1", {"type": "payment.succeeded", "data": data}, 7).problem


def test_a_body_must_be_a_bounded_json_object():
    assert parse_body(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    for body in (b"", b"[]", b"null", b"\xff\xfe", b"{", b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", b"[" * 100_000):
        with pytest.raises(InvalidArgument) as refused:
            parse_body(body)
        assert refused.value.reason == "MALFORMED_EVENT"


# Whether it pays


def payable(**fields):
    return an_invoice(lines_of(1, "Work", 1234), **fields)


def pay_with(ref: str = "pi_1", amount: int = 1234, currency: str = "EUR") -> Payment:
    return Payment("inv_1", amount, currency, ref, "stripe", NOW)


def test_an_exact_payment_pays_a_payable_invoice():
    for status in ("sent", "overdue", "awaiting_employer_payment"):
        invoice = payable(status=status)
        assert apply_payment(invoice, pay_with(), NOW).status == "applied"
        assert (invoice.status, invoice.paid_date, invoice.payment_method, invoice.transaction_ref) == (
            "paid",
            NOW,
            "stripe",
            "pi_1",
        )


@pytest.mark.parametrize(
    ("invoice", "payment", "status", "reason"),
    [
        (None, pay_with(), "unmatched", "unknown invoice"),
        (payable(), pay_with(amount=1233), "unmatched", "amount mismatch"),
        (payable(), pay_with(amount=12340), "unmatched", "amount mismatch"),
        (payable(), pay_with(currency="USD"), "unmatched", "currency mismatch"),
        (payable(status="cancelled"), pay_with(), "unmatched", "cancelled"),
        (payable(status="draft"), pay_with(), "unmatched", "never sent"),
        (payable(status="paid", transaction_ref="pi_0"), pay_with(), "unmatched", "another payment"),
        (payable(status="paid", transaction_ref="pi_1"), pay_with(), "duplicate", "already paid by this payment"),
    ],
)
def test_what_does_not_fit_leaves_the_invoice_as_it_was(invoice, payment, status, reason):
    before = copy.deepcopy(invoice)
    outcome = apply_payment(invoice, payment, NOW)
    assert outcome.status == status and reason in outcome.reason
    assert invoice == before


# Use cases


class FakeConnections:
    def __init__(self, state: dict):
        self._found: dict[str, PaymentConnection] = state.setdefault("connections", {})

    def add(self, found: PaymentConnection) -> None:
        self._found[found.id] = copy.deepcopy(found)

    save = add

    def get(self, organization_id, connection_id):
        found = self._found.get(connection_id)
        return copy.deepcopy(found) if found and found.organization_id == organization_id else None

    def by_token(self, token_hash):
        return copy.deepcopy(next((c for c in self._found.values() if c.token_hash == token_hash), None))

    def count_active(self, organization_id):
        return sum(c.organization_id == organization_id and c.revoked_at is None for c in self._found.values())

    def page(self, organization_id, limit, offset):
        mine = [c for c in self._found.values() if c.organization_id == organization_id][::-1]
        return copy.deepcopy(mine[offset : offset + limit]), len(mine)


class FakeEvents:
    def __init__(self, state: dict):
        self._events: list[StoredEvent] = state.setdefault("events", [])

    def add(self, event: StoredEvent) -> None:
        assert not self.seen(event.connection_id, event.provider_event_id), "the unique index would refuse it"
        self._events.append(event)

    def seen(self, connection_id, provider_event_id):
        return any((e.connection_id, e.provider_event_id) == (connection_id, provider_event_id) for e in self._events)

    def page(self, connection_id, status, limit, offset):
        found = [
            e for e in self._events[::-1] if e.connection_id == connection_id and (not status or e.status == status)
        ]
        return found[offset : offset + limit], len(found)


class FakePaymentsUnitOfWork(FakeUnitOfWork):
    def __enter__(self):
        super().__enter__()
        self.payment_connections = FakeConnections(self._working)
        self.payment_events = FakeEvents(self._working)
        return self


@pytest.fixture
def stored() -> dict:
    return {"invoices": {}, "counters": {}}


@pytest.fixture
def payments(stored) -> PaymentsService:
    return PaymentsService(lambda read_only=False: FakePaymentsUnitOfWork(stored), clock=lambda: NOW)


def deliver_standard(payments, created, body: dict, message_id: str = "msg_1") -> None:
    payments.receive(created.token, standard(created.secret, json.dumps(body).encode(), message_id))


def payment_succeeded(**data) -> dict:
    return {
        "type": "payment.succeeded",
        "data": {"invoiceId": "inv_1", "amountInCents": 1234, "currency": "EUR", "transactionRef": "t1", **data},
    }


def test_a_delivery_is_stored_then_applied_once(payments, stored):
    stored["invoices"]["inv_1"] = payable()
    created = payments.create_connection(KEY, "standard", None)
    assert created.token.startswith("whk_") and created.connection.token_hint == created.token[-4:]
    assert created.secret and stored["connections"][created.connection.id].token_hash != created.token
    deliver_standard(payments, created, payment_succeeded())
    deliver_standard(payments, created, payment_succeeded())  # redelivered: stored once
    assert stored["invoices"]["inv_1"].status == "paid" and stored["invoices"]["inv_1"].payment_method == "standard"
    (event,) = stored["events"]
    assert (event.status, event.provider_event_id, event.invoice_id, event.amount_cents) == (
        "applied",
        "msg_1",
        "inv_1",
        1234,
    )
    deliver_standard(payments, created, payment_succeeded(), message_id="msg_2")
    assert [e.status for e in payments.list_events(KEY, created.connection.id, "", 10, 0).items] == [
        "duplicate",
        "applied",
    ]


def test_another_organizations_invoice_is_unknown_to_a_connection(payments, stored):
    stored["invoices"]["inv_1"] = payable(organization_id="someone_else")
    created = payments.create_connection(KEY, "standard", None)
    deliver_standard(payments, created, payment_succeeded())
    assert stored["invoices"]["inv_1"].status == "sent"
    assert stored["events"][0].status == "unmatched" and "unknown invoice" in stored["events"][0].reason


def test_a_refused_delivery_stores_nothing(payments, stored):
    created = payments.create_connection(KEY, "standard", None)
    with pytest.raises(SignatureError):
        payments.receive(created.token, standard(new_standard_secret(), b"{}"))
    with pytest.raises(NotFound):
        payments.receive("whk_" + "x" * 43, standard(created.secret, b"{}"))
    payments.revoke_connection(KEY, created.connection.id)
    with pytest.raises(NotFound):
        deliver_standard(payments, created, payment_succeeded())
    assert stored.get("events", []) == []


def test_connections_are_checked_and_bounded(payments):
    with pytest.raises(InvalidArgument) as refused:
        payments.create_connection(KEY, "stripe", None)
    assert refused.value.field == "signing_secret"
    with pytest.raises(InvalidArgument):
        payments.create_connection(KEY, "standard", SECRET)
    with pytest.raises(InvalidArgument) as refused:
        payments.create_connection(KEY, None, None)
    assert refused.value.field == "provider"
    stripe = payments.create_connection(KEY, "stripe", SECRET)
    assert stripe.secret is None and stripe.connection.secret == SECRET
    for _ in range(MAX_ACTIVE_CONNECTIONS - 1):
        payments.create_connection(KEY, "standard", None)
    with pytest.raises(Conflict):
        payments.create_connection(KEY, "standard", None)
    payments.revoke_connection(KEY, stripe.connection.id)
    payments.create_connection(KEY, "standard", None)
    with pytest.raises(NotFound):
        payments.list_events(Principal(kind=API_KEY, organization_id="other"), stripe.connection.id, "", 10, 0)
    with pytest.raises(InvalidArgument):
        payments.list_events(KEY, stripe.connection.id, "lost", 10, 0)
