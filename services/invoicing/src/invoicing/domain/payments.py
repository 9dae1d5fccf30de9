"""Payment connections and the events their providers send: signatures, what an event says, and
whether it pays an invoice. Plain Python (hmac, hashlib, base64, json).

Two schemes verify a webhook delivery, over the raw body exactly as sent:
- Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, each v1 an HMAC-SHA256 of
  "{t}.{body}" keyed with the whole secret string (whsec_... included), as Stripe computes it.
- Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64> ...`
  (space-separated), an HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the base64-decoded
  part of the secret after `whsec_`.
Either way the timestamp must be within TOLERANCE_SECONDS of now, and a connection verifies with
its current secret and, for 24 hours after a rotation, the one the rotation replaced.
"""

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import re
import secrets

from invoicing.domain.model import CANCELLED, DRAFT, PAID, TRANSITIONS, Invoice
from portal_common.domain_errors import Conflict, InvalidArgument
from portal_common.json_values import MAX_SAFE_INTEGER
from portal_common.standard_webhooks import signature as standard_signature
from portal_common.timestamps import DAY_MS, MAX_TIMESTAMP

STRIPE, STANDARD = PROVIDERS = ("stripe", "standard")
ACTIVE, REVOKED = "active", "revoked"
APPLIED, DUPLICATE, UNMATCHED, IGNORED = EVENT_STATUSES = ("applied", "duplicate", "unmatched", "ignored")

TOLERANCE_SECONDS = 300
# How long the secret a rotation replaced keeps verifying.
ROTATION_OVERLAP_MS = DAY_MS
TOKEN_PREFIX = "whk_"
TOKEN_PATTERN = re.compile(r"whk_[A-Za-z0-9_-]{43}")
# What a webhook delivery may hold: the gateway refuses larger bodies first (413), and deeper JSON
# than any provider sends is not read.
MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
# Stripe's secrets are whsec_ and about 32 characters; bounded so that nothing odd is stored.
_STRIPE_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=_-]{8,200}")
# Texts taken from an event into their own columns: printable, bounded.
MAX_EVENT_ID, MAX_TYPE, MAX_REFERENCE, MAX_INVOICE_ID = 255, 100, 255, 40
MAX_REASON = 500

# The Stripe events that pay an invoice, and the field of their object holding the amount.
STRIPE_PAYMENTS = {
    "payment_intent.succeeded": "amount_received",
    "checkout.session.completed": "amount_total",
    "checkout.session.async_payment_succeeded": "amount_total",
}
STANDARD_PAYMENT = "payment.succeeded"


class SignatureError(InvalidArgument):
    """A delivery whose signature is missing or wrong, or whose timestamp is stale (400)."""


def new_token() -> str:
    """The secret part of a webhook URL: 32 random bytes. Stored only as token_hash()."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_stripe_secret(secret: str | None, field: str = "signing_secret") -> str:
    if not secret:
        raise InvalidArgument(
            f"{field} is required for stripe: the endpoint's signing secret from the Stripe dashboard (whsec_...)",
            field=field,
        )
    if not _STRIPE_SECRET.fullmatch(secret):
        raise InvalidArgument(
            f"{field} must be a Stripe signing secret: whsec_ followed by 8 to 200 characters", field=field
        )
    return secret


@dataclasses.dataclass
class PaymentConnection:
    id: str
    organization_id: str
    provider: str
    token_hash: str
    token_hint: str
    secret: str | None  # None once revoked
    created_at: int
    previous_secret: str | None = None
    previous_secret_expires_at: int | None = None
    rotated_at: int | None = None
    revoked_at: int | None = None

    @property
    def status(self) -> str:
        return REVOKED if self.revoked_at is not None else ACTIVE

    def verifying_secrets(self, now: int) -> list[str]:
        """The secrets a delivery may be signed with at `now`."""
        found = [self.secret] if self.secret else []
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            found.append(self.previous_secret)
        return found

    def rotate(self, new_secret: str, now: int) -> None:
        """The current secret verifies for ROTATION_OVERLAP_MS more; one replaced before is dropped."""
        self._require_active()
        self.previous_secret, self.previous_secret_expires_at = self.secret, now + ROTATION_OVERLAP_MS
        self.secret, self.rotated_at = new_secret, now

    def revoke(self, now: int) -> None:
        """Nothing verifies any more, and the secrets are erased. Revoking again changes nothing."""
        if self.revoked_at is None:
            self.revoked_at = now
        self.secret = self.previous_secret = None
        self.previous_secret_expires_at = None

    def _require_active(self) -> None:
        if self.revoked_at is not None:
            raise Conflict(f"payment connection {self.id} is revoked")

    def verify(self, delivery: "Delivery", now: int) -> str:
        """Checks the delivery's signature; returns the provider's event id for Standard Webhooks
        (its `webhook-id`), "" for Stripe (whose id is in the body)."""
        keys = self.verifying_secrets(now)
        if self.provider == STRIPE:
            verify_stripe(delivery.header("stripe-signature"), delivery.body, keys, now // 1000)
            return ""
        return verify_standard(delivery, keys, now // 1000)


@dataclasses.dataclass(frozen=True)
class Delivery:
    """A webhook request as received: its headers (lower-case names) and raw body."""

    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def _check_timestamp(given: str, now_seconds: int) -> None:
    if not (given.isascii() and given.isdigit()) or len(given) > 12:
        raise SignatureError("the signature's timestamp is not a whole number of Unix seconds", reason="BAD_SIGNATURE")
    if abs(now_seconds - int(given)) > TOLERANCE_SECONDS:
        raise SignatureError(
            f"the signature's timestamp is more than {TOLERANCE_SECONDS} s from now: a stale or replayed delivery",
            reason="STALE_TIMESTAMP",
        )


def _matches(expected: list[bytes], given: list[bytes]) -> bool:
    """Whether any given signature equals any expected one; every comparison in constant time."""
    found = False
    for signature in given:
        for candidate in expected:
            found |= hmac.compare_digest(candidate, signature)
    return found


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 value Stripe sends: hex HMAC-SHA256 of "{t}.{body}" keyed with the whole secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_stripe(header: str | None, body: bytes, keys: list[str], now_seconds: int) -> None:
    if not header:
        raise SignatureError("missing Stripe-Signature header", reason="MISSING_SIGNATURE")
    timestamp, given = "", []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            given.append(value.encode())
    if not timestamp or not given:
        raise SignatureError(
            "the Stripe-Signature header must hold t=<timestamp> and at least one v1=<signature>",
            reason="BAD_SIGNATURE",
        )
    _check_timestamp(timestamp, now_seconds)
    if not _matches([stripe_signature(key, int(timestamp), body).encode() for key in keys], given):
        raise SignatureError(
            "no v1 signature of Stripe-Signature matches this endpoint's secret", reason="BAD_SIGNATURE"
        )


def verify_standard(delivery: Delivery, keys: list[str], now_seconds: int) -> str:
    message_id, timestamp = delivery.header("webhook-id"), delivery.header("webhook-timestamp")
    header = delivery.header("webhook-signature")
    if not (message_id and timestamp and header):
        raise SignatureError(
            "missing Standard Webhooks headers: webhook-id, webhook-timestamp and webhook-signature are required",
            reason="MISSING_SIGNATURE",
        )
    _check_timestamp(timestamp, now_seconds)
    given = []
    for versioned in header.split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1":
            try:
                given.append(base64.b64decode(signature, validate=True))
            except (binascii.Error, ValueError):
                continue
    expected = [base64.b64decode(standard_signature(key, message_id, int(timestamp), delivery.body)) for key in keys]
    if not _matches(expected, given):
        raise SignatureError(
            "no v1 signature of webhook-signature matches this endpoint's secret", reason="BAD_SIGNATURE"
        )
    return message_id


# What an event says


@dataclasses.dataclass(frozen=True)
class Payment:
    """A payment as an event describes it."""

    invoice_id: str | None
    amount_cents: int | None
    currency: str | None
    transaction_ref: str | None
    method: str
    paid_at: int


@dataclasses.dataclass(frozen=True)
class ReceivedEvent:
    """A verified event: its id and type, and the payment it describes (None when it describes no
    payment, or one that cannot be read: `problem` says why)."""

    provider_event_id: str
    type: str
    payment: Payment | None = None
    problem: str | None = None


def _depth(value, limit: int) -> int:
    """How deep `value` nests, counted up to `limit + 1` (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _malformed(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="MALFORMED_EVENT")


def parse_body(body: bytes) -> dict:
    """The delivery's JSON object, bounded in size and depth; 400 otherwise."""
    if len(body) > MAX_BODY_BYTES:
        raise _malformed(f"the event body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _malformed("the event body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise _malformed("the event body must be a JSON object")
    if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise _malformed(f"the event body nests deeper than {MAX_JSON_DEPTH} levels")
    return data


def _text(value, limit: int) -> str | None:
    """A string fit for a column of its own (printable, at most `limit` characters), else None."""
    if isinstance(value, str) and value and len(value) <= limit and value.isprintable():
        return value
    return None


def _required_text(data: dict, name: str, limit: int) -> str:
    value = _text(data.get(name), limit)
    if value is None:
        raise _malformed(f"the event's {name} must be a printable string of 1 to {limit} characters")
    return value


def _whole(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SAFE_INTEGER:
        return value
    return None


def read_event(provider: str, message_id: str, data: dict, received_at: int) -> ReceivedEvent:
    """What a verified event body says. `message_id` is the Standard Webhooks' `webhook-id`."""
    if provider == STRIPE:
        return _stripe_event(data)
    event_id = _text(message_id, MAX_EVENT_ID)
    if event_id is None:
        raise _malformed(f"webhook-id must be a printable string of 1 to {MAX_EVENT_ID} characters")
    return _standard_event(event_id, data, received_at)


def _stripe_event(data: dict) -> ReceivedEvent:
    event_id = _required_text(data, "id", MAX_EVENT_ID)
    type_ = _required_text(data, "type", MAX_TYPE)
    if type_ not in STRIPE_PAYMENTS:
        return ReceivedEvent(event_id, type_)
    created = _whole(data.get("created"))
    body = data.get("data")
    found = body.get("object") if isinstance(body, dict) else None
    if created is None or created * 1000 > MAX_TIMESTAMP or not isinstance(found, dict):
        return ReceivedEvent(event_id, type_, problem="malformed event: created or data.object missing")
    metadata = found.get("metadata")
    checkout = type_.startswith("checkout.")
    payment = Payment(
        invoice_id=_text(metadata.get("invoiceId") if isinstance(metadata, dict) else None, MAX_INVOICE_ID),
        amount_cents=_whole(found.get(STRIPE_PAYMENTS[type_])),
        currency=_currency(found.get("currency")),
        # The payment intent's id, which both kinds of event name; a session without one, its own.
        transaction_ref=_text(found.get("payment_intent") if checkout else found.get("id"), MAX_REFERENCE)
        or _text(found.get("id"), MAX_REFERENCE),
        method=STRIPE,
        paid_at=created * 1000,
    )
    if checkout and found.get("payment_status") not in (None, "paid"):
        problem: str | None = f"checkout session not paid yet (payment_status {str(found['payment_status'])[:40]})"
    else:
        problem = _problem(payment, "data.object.metadata.invoiceId", f"data.object.{STRIPE_PAYMENTS[type_]}")
    return ReceivedEvent(event_id, type_, payment, problem)


def _standard_event(event_id: str, data: dict, received_at: int) -> ReceivedEvent:
    type_ = _required_text(data, "type", MAX_TYPE)
    if type_ != STANDARD_PAYMENT:
        return ReceivedEvent(event_id, type_)
    found = data.get("data")
    if not isinstance(found, dict):
        return ReceivedEvent(event_id, type_, problem="malformed event: data must be an object")
    paid_at = _whole(found.get("paidAt", received_at))
    method = _text(found.get("paymentMethod", STANDARD), MAX_REFERENCE)
    payment = Payment(
        invoice_id=_text(found.get("invoiceId"), MAX_INVOICE_ID),
        amount_cents=_whole(found.get("amountInCents")),
        currency=_currency(found.get("currency")),
        transaction_ref=_text(found.get("transactionRef"), MAX_REFERENCE),
        method=method or STANDARD,
        paid_at=paid_at if paid_at is not None and paid_at <= MAX_TIMESTAMP else received_at,
    )
    if method is None:
        problem: str | None = "malformed event: data.paymentMethod must be a printable string"
    elif payment.paid_at != paid_at:
        problem = "malformed event: data.paidAt must be Unix milliseconds"
    else:
        problem = _problem(payment, "data.invoiceId", "data.amountInCents")
    return ReceivedEvent(event_id, type_, payment, problem)


def _currency(value) -> str | None:
    """A three-letter code, upper-cased as invoices hold it (Stripe writes `usd`)."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    return None


def _problem(payment: Payment, invoice_field: str, amount_field: str) -> str | None:
    """Why a payment event cannot pay anything, if it cannot."""
    if payment.invoice_id is None:
        return f"no invoice: {invoice_field} is missing or not an invoice id"
    if payment.amount_cents is None:
        return f"malformed event: {amount_field} must be a whole number of minor units"
    if payment.currency is None:
        return "malformed event: currency must be a three-letter ISO 4217 code"
    if payment.transaction_ref is None:
        return "malformed event: no payment reference (payment intent id or data.transactionRef)"
    return None


@dataclasses.dataclass(frozen=True)
class StoredEvent:
    """An event as a connection keeps it: what it said, and what became of it."""

    id: str
    connection_id: str
    organization_id: str
    provider_event_id: str
    type: str
    status: str
    reason: str | None
    invoice_id: str | None
    amount_cents: int | None
    currency: str | None
    transaction_ref: str | None
    received_at: int
    payload: bytes


# Whether it pays the invoice


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str
    reason: str | None = None


def apply_payment(invoice: Invoice | None, payment: Payment, now: int) -> Outcome:
    """Pays `invoice` (the connection's organization's invoice the payment names, None when it has
    no such invoice) when the payment is for exactly its total, in its currency, and it is payable.
    A payment the invoice was already paid by is a duplicate, changing nothing; anything else that
    does not fit is unmatched, and the invoice is left as it was."""
    if invoice is None:
        return Outcome(UNMATCHED, f"unknown invoice {payment.invoice_id}")
    status = invoice.status_at(now)
    if status == PAID:
        if invoice.transaction_ref == payment.transaction_ref:
            return Outcome(DUPLICATE, f"invoice {invoice.number} is already paid by this payment")
        return Outcome(
            UNMATCHED, f"invoice {invoice.number} is already paid by another payment ({invoice.transaction_ref})"
        )
    if status == CANCELLED:
        return Outcome(UNMATCHED, f"invoice {invoice.number} is cancelled")
    if status == DRAFT or status not in TRANSITIONS["pay"]:
        return Outcome(UNMATCHED, f"invoice {invoice.number} is {status}: it was never sent")
    if payment.currency != invoice.currency:
        return Outcome(
            UNMATCHED, f"currency mismatch: the payment is in {payment.currency}, invoice in {invoice.currency}"
        )
    if payment.amount_cents != invoice.totals.total_cents:
        return Outcome(
            UNMATCHED,
            f"amount mismatch: the payment is {payment.amount_cents}, the invoice's total {invoice.totals.total_cents} "
            f"(minor units of {invoice.currency})",
        )
    invoice.pay(payment.paid_at, payment.method, payment.transaction_ref, now)
    return Outcome(APPLIED)
