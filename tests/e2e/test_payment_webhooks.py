"""Payment webhooks through the real gateway and invoicing service (docs/payments.md): connections
with the API key, deliveries signed as Stripe and Standard Webhooks senders sign them (the formulas
written out here, and the `standardwebhooks` package), and what each event does to the invoices."""

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import time
import uuid

import pytest
from crm_rest import api_for, assert_error
from invoicing_rest import FAR_FUTURE, INVOICES, create_invoice, customer, invoice_body, transition
from standardwebhooks.webhooks import Webhook
from test_invoicing_access import sign_in

from portal_stack.stack import Stack
from portal_stack.testing import Api, free_port, new_organization

CONNECTIONS = "/api/v1/payment-connections"
TOTAL = 107_000  # the documented invoice: 10 × 100.00 USD and 7 % tax, in cents
STRIPE_SECRET = "whsec_" + "stripeTestSecret0123456789abcdef"


# Signing, as the providers do it


def stripe_header(secret: str, body: bytes, t: int | None = None, *, also: tuple[str, ...] = ()) -> str:
    """Stripe-Signature: t and a v1 per secret (several during Stripe's own secret rollover)."""
    t = int(time.time()) if t is None else t
    signatures = [
        hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest() for key in (secret, *also)
    ]
    return ",".join([f"t={t}", *(f"v1={signature}" for signature in signatures)])


def standard_headers(secret: str, body: bytes, message_id: str | None = None, t: int | None = None) -> dict:
    """The Standard Webhooks headers, computed from the specification's formula."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    t = int(time.time()) if t is None else t
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{message_id}.{t}.".encode() + body, hashlib.sha256).digest())
    return {"webhook-id": message_id, "webhook-timestamp": str(t), "webhook-signature": f"v1,{signature.decode()}"}


def library_headers(secret: str, body: bytes, message_id: str | None = None) -> dict:
    """The same headers as the `standardwebhooks` package signs them."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    signature = Webhook(secret).sign(message_id, now, body.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}


def standard_event(
    invoice_id: str, amount: int = TOTAL, currency: str = "USD", ref: str | None = None, **data
) -> bytes:
    body = {
        "type": "payment.succeeded",
        "data": {
            "invoiceId": invoice_id,
            "amountInCents": amount,
            "currency": currency,
            "transactionRef": ref or f"txn_{uuid.uuid4().hex[:12]}",
            "paymentMethod": "card",
            "paidAt": 1767225600000,
            **data,
        },
    }
    return json.dumps(body).encode()


def stripe_event(invoice_id: str, *, kind: str = "payment_intent.succeeded", intent: str | None = None, **changes):
    intent = intent or f"pi_{uuid.uuid4().hex[:14]}"
    if kind == "payment_intent.succeeded":
        found = {"id": intent, "object": "payment_intent", "amount_received": TOTAL, "currency": "usd"}
    else:
        found = {
            "id": f"cs_{uuid.uuid4().hex[:14]}",
            "object": "checkout.session",
            "amount_total": TOTAL,
            "currency": "usd",
            "payment_intent": intent,
            "payment_status": "paid",
        }
    found["metadata"] = {"invoiceId": invoice_id}
    found.update(changes)
    event = {
        "id": f"evt_{uuid.uuid4().hex[:14]}",
        "object": "event",
        "type": kind,
        "created": 1767225600,
        "data": {"object": found},
    }
    # Stripe pretty-prints its bodies: the signature covers every byte of them.
    return json.dumps(event, indent=2).encode()


# Helpers


def connect(api: Api, provider: str = "standard", **body) -> dict:
    response = api.post(CONNECTIONS, json={"provider": provider, **body})
    assert response.status_code == 201, response.text
    return response.json()


def deliver(api: Api, connection: dict, body: bytes, headers: dict, content_type: str = "application/json"):
    """A provider's POST: no credential, the raw bytes as they are."""
    return api.post(connection["webhookUrl"], key=None, data=body, headers={"Content-Type": content_type, **headers})


def received(response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}


def sent_invoice(api: Api, **overrides) -> dict:
    contact_id, _ = customer(api)
    invoice = create_invoice(api, invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None, **overrides))
    assert transition(api, invoice["_id"], "send").status_code == 200
    return invoice


def events(api: Api, connection: dict, query: str = "") -> dict:
    response = api.get(f"{CONNECTIONS}/{connection['id']}/events{query}")
    assert response.status_code == 200, response.text
    return response.json()


def invoice_of(api: Api, invoice: dict) -> dict:
    return api.get(f"{INVOICES}/{invoice['_id']}").json()


@pytest.fixture(scope="module")
def shop(stack) -> Api:
    return api_for(stack, new_organization(stack, "Webhook Shop"))


# Connections


def test_connection_endpoints_need_the_organizations_api_key(shop):
    for method, path in (("POST", CONNECTIONS), ("GET", CONNECTIONS), ("GET", f"{CONNECTIONS}/pcn_x/events")):
        assert_error(shop.request(method, path, key=None, json={"provider": "standard"}), 401)
    user = sign_in(shop, f"payer.{uuid.uuid4().hex[:8]}@example.com")
    assert_error(user.post(CONNECTIONS, json={"provider": "standard"}), 403)
    assert_error(user.get(CONNECTIONS), 403)


def test_a_connection_shows_its_url_and_generated_secret_once(shop):
    created = connect(shop)
    assert created["webhookUrl"].startswith("/api/v1/webhooks/payments/whk_")
    assert created["signingSecret"].startswith("whsec_") and len(base64.b64decode(created["signingSecret"][6:])) == 32
    assert created["status"] == "active" and created["provider"] == "standard"
    assert created["webhookUrl"].endswith(created["tokenHint"])
    listed = shop.get(CONNECTIONS + "?limit=200").json()
    mine = next(c for c in listed["connections"] if c["id"] == created["id"])
    assert "webhookUrl" not in mine and "signingSecret" not in mine and mine["tokenHint"] == created["tokenHint"]
    assert listed["total"] >= 1 and listed["limit"] == 200

    stripe = connect(shop, "stripe", signingSecret=STRIPE_SECRET)
    assert "signingSecret" not in stripe and stripe["webhookUrl"] != created["webhookUrl"]


def test_connection_bodies_are_read_strictly(shop):
    assert_error(shop.post(CONNECTIONS, json={"provider": "paypal"}), 400, "provider")
    assert_error(shop.post(CONNECTIONS, json={}), 400, "provider")
    assert_error(shop.post(CONNECTIONS, json={"provider": "stripe"}), 400, "signingSecret")
    assert_error(
        shop.post(CONNECTIONS, json={"provider": "stripe", "signingSecret": "sk_live_x"}), 400, "signingSecret"
    )
    assert_error(shop.post(CONNECTIONS, json={"provider": "standard", "signingSecret": STRIPE_SECRET}), 400)
    body = assert_error(shop.post(CONNECTIONS, json={"provider": "standard", "secret": "x"}), 400, "secret")
    assert body["field"] == "secret"


# Deliveries


def test_a_standard_payment_pays_the_invoice_and_a_redelivery_changes_nothing(shop):
    connection = connect(shop)
    secret = connection["signingSecret"]
    invoice = sent_invoice(shop)
    body = standard_event(invoice["_id"], ref="txn_std_1")
    headers = library_headers(secret, body)
    received(deliver(shop, connection, body, headers))

    paid = invoice_of(shop, invoice)
    properties = paid["customProperties"]
    assert paid["status"] == "paid"
    assert (properties["paymentMethod"], properties["transactionRef"], properties["paidDate"]) == (
        "card",
        "txn_std_1",
        1767225600000,
    )
    listed = events(shop, connection)
    assert listed["total"] == 1
    (event,) = listed["events"]
    assert (event["providerEventId"], event["type"], event["status"]) == (
        headers["webhook-id"],
        "payment.succeeded",
        "applied",
    )
    assert (event["invoiceId"], event["amountInCents"], event["currency"]) == (invoice["_id"], TOTAL, "USD")

    received(deliver(shop, connection, body, headers))  # the sender retried: same webhook-id
    assert events(shop, connection)["total"] == 1 and invoice_of(shop, invoice)["updatedAt"] == paid["updatedAt"]

    # Another message about the same payment (a late one): recorded, changes nothing.
    received(deliver(shop, connection, body, standard_headers(secret, body)))
    statuses = [e["status"] for e in events(shop, connection)["events"]]
    assert statuses == ["duplicate", "applied"] and invoice_of(shop, invoice)["updatedAt"] == paid["updatedAt"]


def test_the_formula_and_the_library_sign_alike_and_bad_signatures_are_refused(shop):
    connection = connect(shop)
    secret = connection["signingSecret"]
    invoice = sent_invoice(shop)
    body = standard_event(invoice["_id"])
    formula = standard_headers(secret, body, message_id="msg_same", t=int(time.time()))
    library = Webhook(secret).sign(
        "msg_same", datetime.datetime.fromtimestamp(int(formula["webhook-timestamp"])), body.decode()
    )
    assert formula["webhook-signature"] == library

    other = connect(shop)["signingSecret"]
    refused = {
        "wrong secret": (body, standard_headers(other, body)),
        "stale timestamp": (body, standard_headers(secret, body, t=int(time.time()) - 301)),
        "future timestamp": (body, standard_headers(secret, body, t=int(time.time()) + 301)),
        "one byte changed": (body.replace(b"USD", b"USE"), standard_headers(secret, body)),
        "whitespace added": (body + b" ", standard_headers(secret, body)),
        "no signature": (body, {k: v for k, v in standard_headers(secret, body).items() if k != "webhook-signature"}),
    }
    for case, (sent, headers) in refused.items():
        error = assert_error(deliver(shop, connection, sent, headers), 400)
        assert error["code"] in ("BAD_SIGNATURE", "STALE_TIMESTAMP", "MISSING_SIGNATURE"), (case, error)
    assert events(shop, connection)["total"] == 0 and invoice_of(shop, invoice)["status"] == "sent"

    # One of several v1 signatures (and other versions beside) is enough.
    good = standard_headers(secret, body)
    bad = standard_headers(other, body)["webhook-signature"]
    good["webhook-signature"] = f"v1a,abc {bad} {good['webhook-signature']}"
    received(deliver(shop, connection, body, good))
    assert invoice_of(shop, invoice)["status"] == "paid"


def test_stripe_events_pay_in_any_order_and_once(shop):
    connection = connect(shop, "stripe", signingSecret=STRIPE_SECRET)
    invoice = sent_invoice(shop)
    # Checkout's event first, then the payment intent's: both name the same payment.
    checkout = stripe_event(invoice["_id"], kind="checkout.session.completed", intent="pi_order_1")
    received(deliver(shop, connection, checkout, {"Stripe-Signature": stripe_header(STRIPE_SECRET, checkout)}))
    properties = invoice_of(shop, invoice)["customProperties"]
    assert (properties["paymentMethod"], properties["transactionRef"], properties["paidDate"]) == (
        "stripe",
        "pi_order_1",
        1767225600000,
    )
    succeeded = stripe_event(invoice["_id"], intent="pi_order_1")
    received(deliver(shop, connection, succeeded, {"Stripe-Signature": stripe_header(STRIPE_SECRET, succeeded)}))
    listed = events(shop, connection)["events"]
    assert [(e["type"], e["status"]) for e in listed] == [
        ("payment_intent.succeeded", "duplicate"),
        ("checkout.session.completed", "applied"),
    ]
    assert json.loads(succeeded)["id"] == listed[0]["providerEventId"]

    # Several v1 values (Stripe's own rollover): one matching is enough; none is a 400.
    another = sent_invoice(shop)
    body = stripe_event(another["_id"])
    received(
        deliver(
            shop, connection, body, {"Stripe-Signature": stripe_header("whsec_old000000", body, also=(STRIPE_SECRET,))}
        )
    )
    assert invoice_of(shop, another)["status"] == "paid"
    stale = stripe_header(STRIPE_SECRET, body, t=int(time.time()) - 400)
    for headers in ({}, {"Stripe-Signature": stale}, {"Stripe-Signature": stripe_header("whsec_wrong000", body)}):
        assert_error(deliver(shop, connection, body, headers), 400)
    spaced = body.replace(b'"type"', b'"type" ')
    assert_error(deliver(shop, connection, spaced, {"Stripe-Signature": stripe_header(STRIPE_SECRET, body)}), 400)


def test_payments_that_do_not_fit_are_kept_as_unmatched(shop, other_api):
    connection = connect(shop)
    secret = connection["signingSecret"]
    invoice = sent_invoice(shop)
    cancelled = sent_invoice(shop)
    assert transition(shop, cancelled["_id"], "cancel").status_code == 200
    draft = create_invoice(shop, invoice_body(customer(shop)[0], issueDate=FAR_FUTURE, dueDate=None))
    theirs = sent_invoice(other_api)
    cases = [
        (standard_event(invoice["_id"], amount=TOTAL - 1), "amount mismatch"),
        (standard_event(invoice["_id"], currency="EUR"), "currency mismatch"),
        (standard_event("inv_does_not_exist"), "unknown invoice"),
        (standard_event(theirs["_id"]), "unknown invoice"),  # another organization's: never touched
        (standard_event(cancelled["_id"]), "cancelled"),
        (standard_event(draft["_id"]), "never sent"),
        (standard_event(invoice["_id"], amount=1.5), "whole number"),
    ]
    for body, _ in cases:
        received(deliver(shop, connection, body, standard_headers(secret, body)))
    ignored = json.dumps({"type": "payment.refunded", "data": {}}).encode()
    received(deliver(shop, connection, ignored, standard_headers(secret, ignored)))

    unmatched = events(shop, connection, "?status=unmatched")
    assert unmatched["total"] == len(cases)
    reasons = [event["reason"] for event in reversed(unmatched["events"])]
    for reason, (_, expected) in zip(reasons, cases, strict=True):
        assert expected in reason, reasons
    assert events(shop, connection, "?status=ignored")["events"][0]["type"] == "payment.refunded"
    page = events(shop, connection, "?status=unmatched&limit=2&offset=2")
    assert [e["id"] for e in page["events"]] == [e["id"] for e in unmatched["events"][2:4]]
    assert invoice_of(shop, invoice)["status"] == "sent"
    assert other_api.get(f"{INVOICES}/{theirs['_id']}").json()["status"] == "sent"
    assert_error(shop.get(f"{CONNECTIONS}/{connection['id']}/events?status=lost"), 400, "status")

    # Paid by another payment: a second payment is unmatched.
    paid = standard_event(invoice["_id"], ref="txn_first")
    received(deliver(shop, connection, paid, standard_headers(secret, paid)))
    again = standard_event(invoice["_id"], ref="txn_second")
    received(deliver(shop, connection, again, standard_headers(secret, again)))
    latest = events(shop, connection, "?limit=1")["events"][0]
    assert latest["status"] == "unmatched" and "already paid by another payment" in latest["reason"]
    assert invoice_of(shop, invoice)["customProperties"]["transactionRef"] == "txn_first"


def test_an_organizations_connection_never_reaches_another_organizations_records(shop, other_api):
    mine = connect(shop)
    theirs = connect(other_api)
    their_invoice = sent_invoice(other_api)
    body = standard_event(their_invoice["_id"])
    received(deliver(shop, mine, body, standard_headers(mine["signingSecret"], body)))
    assert other_api.get(f"{INVOICES}/{their_invoice['_id']}").json()["status"] == "sent"
    # Their token with my secret, and my token with theirs: the signature does not verify.
    assert_error(deliver(shop, theirs, body, standard_headers(mine["signingSecret"], body)), 400)
    assert other_api.get(f"{INVOICES}/{their_invoice['_id']}").json()["status"] == "sent"
    for method, path in (
        ("GET", f"{CONNECTIONS}/{theirs['id']}/events"),
        ("DELETE", f"{CONNECTIONS}/{theirs['id']}"),
        ("POST", f"{CONNECTIONS}/{theirs['id']}/rotate-secret"),
    ):
        assert_error(shop.request(method, path, json={}), 404)
    assert theirs["id"] not in [c["id"] for c in shop.get(CONNECTIONS + "?limit=200").json()["connections"]]


def test_a_rotated_secret_keeps_the_old_one_verifying_and_a_revoked_url_is_gone(shop):
    connection = connect(shop)
    old = connection["signingSecret"]
    rotated = shop.post(f"{CONNECTIONS}/{connection['id']}/rotate-secret", json={})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["signingSecret"]
    assert new != old and "webhookUrl" not in rotated.json()
    assert rotated.json()["previousSecretExpiresAt"] > time.time() * 1000 + 23 * 3600 * 1000
    for secret in (old, new):
        invoice = sent_invoice(shop)
        body = standard_event(invoice["_id"])
        received(deliver(shop, connection, body, standard_headers(secret, body)))
        assert invoice_of(shop, invoice)["status"] == "paid"
    assert_error(
        shop.post(f"{CONNECTIONS}/{connection['id']}/rotate-secret", json={"signingSecret": STRIPE_SECRET}), 400
    )

    stripe = connect(shop, "stripe", signingSecret=STRIPE_SECRET)
    assert_error(shop.post(f"{CONNECTIONS}/{stripe['id']}/rotate-secret", json={}), 400, "signingSecret")
    rolled = shop.post(f"{CONNECTIONS}/{stripe['id']}/rotate-secret", json={"signingSecret": "whsec_rolled0123456789"})
    assert rolled.status_code == 200 and "signingSecret" not in rolled.json()
    for secret in (STRIPE_SECRET, "whsec_rolled0123456789"):
        body = stripe_event("inv_unknown")
        received(deliver(shop, stripe, body, {"Stripe-Signature": stripe_header(secret, body)}))

    revoked = shop.delete(f"{CONNECTIONS}/{connection['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    body = standard_event("inv_x")
    assert_error(deliver(shop, connection, body, standard_headers(new, body)), 404)
    assert shop.delete(f"{CONNECTIONS}/{connection['id']}").json()["revokedAt"] == revoked.json()["revokedAt"]
    assert_error(shop.post(f"{CONNECTIONS}/{connection['id']}/rotate-secret", json={}), 409)
    assert events(shop, connection)["total"] == 2  # its events stay listed
    unknown = {"webhookUrl": "/api/v1/webhooks/payments/whk_" + "A" * 43}
    assert_error(deliver(shop, unknown, body, standard_headers(new, body)), 404)
    assert_error(deliver(shop, {"webhookUrl": "/api/v1/webhooks/payments/nonsense"}, body, {}), 404)


def test_the_raw_body_reaches_the_service_and_is_bounded(shop):
    connection = connect(shop)
    secret = connection["signingSecret"]
    for body, content_type in (
        (b"not json at all", "text/plain"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
    ):
        error = assert_error(deliver(shop, connection, body, standard_headers(secret, body), content_type), 400)
        assert error["code"] == "MALFORMED_EVENT", error
    deep = b'{"type": "payment.succeeded", "data": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert (
        assert_error(deliver(shop, connection, deep, standard_headers(secret, deep)), 400)["code"] == "MALFORMED_EVENT"
    )
    # A body signed as sent with a form content type is read as the bytes, not as a form.
    invoice = sent_invoice(shop)
    body = standard_event(invoice["_id"])
    received(deliver(shop, connection, body, standard_headers(secret, body), "application/x-www-form-urlencoded"))
    assert invoice_of(shop, invoice)["status"] == "paid"
    big = b'{"type": "x", "pad": "' + b"x" * (256 * 1024) + b'"}'
    response = deliver(shop, connection, big, standard_headers(secret, big))
    assert response.status_code == 413 and "256 KiB" in response.json()["error"]


def test_deliveries_are_limited_per_client_address(stack, shop, tmp_path):
    """A second gateway in front of the same services, with a budget of 2 deliveries a minute."""
    config = dataclasses.replace(
        stack.config, data_dir=tmp_path, http_port=free_port(), admin_port=free_port(), webhook_rate_per_minute=2
    )
    gateway = Stack(config, log_dir=tmp_path)
    gateway.restart("envoy")
    try:
        api = Api(f"http://127.0.0.1:{config.http_port}", shop.key)
        unknown = {"webhookUrl": "/api/v1/webhooks/payments/whk_" + "B" * 43}
        for _ in range(2):
            assert_error(deliver(api, unknown, b"{}", {}), 404)
        for headers in ({}, {"X-Forwarded-For": "203.0.113.7"}):  # the client cannot pick its address
            limited = deliver(api, unknown, b"{}", headers)
            assert limited.status_code == 429 and limited.headers["retry-after"] == "60", limited.text
        assert api.get(CONNECTIONS).status_code == 200  # the API key's own budget
    finally:
        gateway.stop()
