"""Invoices and their rules: types, payment terms, numbering, the lifecycle. Plain Python."""

import dataclasses
import datetime
from decimal import Decimal

from invoicing.domain.money import LineAmounts, Totals
from portal_common.domain_errors import Conflict, InvalidArgument
from portal_common.timestamps import DAY_MS, MAX_TIMESTAMP

B2B_CONSOLIDATED, B2B_SINGLE, B2C_SINGLE = TYPES = ("b2b_consolidated", "b2b_single", "b2c_single")

DRAFT, SENT, AWAITING_EMPLOYER_PAYMENT, OVERDUE, PAID, CANCELLED = STATUSES = (
    "draft",
    "sent",
    "awaiting_employer_payment",
    "overdue",
    "paid",
    "cancelled",
)
# Sent and not yet paid: what turns overdue once the due date has passed.
UNPAID = (SENT, AWAITING_EMPLOYER_PAYMENT)

# The lifecycle: which statuses each transition leaves from. Anything else is a 409.
TRANSITIONS = {
    "send": (DRAFT,),
    "pay": (SENT, OVERDUE, AWAITING_EMPLOYER_PAYMENT),
    # awaiting_employer_payment is the sent state of a consolidated invoice, so it cancels like sent.
    "cancel": (DRAFT, SENT, OVERDUE, AWAITING_EMPLOYER_PAYMENT),
}

PAYMENT_TERMS = {"due_on_receipt": 0, "net7": 7, "net15": 15, "net30": 30, "net60": 60, "net90": 90}
DEFAULT_PAYMENT_TERMS = "net30"
# Bounds of what an invoice may hold, so that any invoice renders in well under a second and a
# list page of 200 of the largest stays within the gateway's 32 MiB response buffer: the gateway
# prints some characters as 6-byte escapes (\u003c for "<"), so 12,000 characters of free text
# may take 72 KB, and 200 lines about 55 KB more (docs/api-invoicing.md, "Limits").
MAX_LINES = 200
MAX_FREE_TEXT = 12_000


def utc_day(ms: int) -> int:
    """The start (Unix ms) of the UTC day holding `ms`."""
    return ms - ms % DAY_MS


def due_date(issue_date: int, payment_terms: str, given: int | None) -> int:
    """issue_date plus the terms' days; a given due_date must fall on that UTC day (400 otherwise)."""
    days = PAYMENT_TERMS[payment_terms]
    expected = issue_date + days * DAY_MS
    if expected > MAX_TIMESTAMP:
        raise InvalidArgument(
            f"the due date, {days} days after issue_date ({payment_terms}), would fall after the year 9999",
            field="issue_date",
        )
    if given is None:
        return expected
    if utc_day(given) != utc_day(expected):
        raise InvalidArgument(
            f"due_date does not match payment_terms {payment_terms}: it must fall on "
            f"{_day_text(expected)} ({days} days after issue_date); leave it out to have it computed",
            field="due_date",
        )
    return given


def overdue_from(due: int) -> int:
    """When an unpaid invoice becomes overdue: once its due date's UTC day has ended. The one
    definition of overdue: writes store it (column overdue_at, which the list filters and the
    overdue job's sweep compare with now) and reads apply it with status_as_read."""
    return utc_day(due) + DAY_MS


def status_as_read(status: str, due: int, now: int) -> str:
    """A stored status as read at `now`: an unpaid invoice past its due date is overdue, before
    the overdue job has stored it."""
    return OVERDUE if status in UNPAID and now >= overdue_from(due) else status


def invoice_period(issue_date: int) -> str:
    """The numbering period of an issue date: its UTC year and month, `YYYY-MM`."""
    return datetime.datetime.fromtimestamp(issue_date / 1000, datetime.UTC).strftime("%Y-%m")


def invoice_number(period: str, sequence: int) -> str:
    """INV-YYYY-MM-### : three digits, widening past 999 (INV-2025-01-1000)."""
    return f"INV-{period}-{sequence:03d}"


def _day_text(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d")


@dataclasses.dataclass(frozen=True)
class Address:
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def lines(self) -> list[str]:
        """As printed: street; postal code and city; state; country."""
        town = " ".join(filter(None, (self.postal_code, self.city)))
        return [part for part in (self.street, town, self.state, self.country) if part]


ADDRESS_FIELDS = tuple(field.name for field in dataclasses.fields(Address))


@dataclasses.dataclass(frozen=True)
class BillTo:
    name: str
    contact_id: str | None = None
    crm_organization_id: str | None = None
    email: str | None = None
    address: Address = Address()
    # The billed CRM organization's tax id and the billed contact's name, as the CRM had them.
    tax_id: str | None = None
    contact_name: str | None = None


@dataclasses.dataclass(frozen=True)
class Issuer:
    name: str
    email: str | None = None
    address: Address = Address()
    tax_id: str | None = None
    legal_name: str | None = None
    phone: str | None = None
    website: str | None = None

    def over(self, profile: "Issuer") -> "Issuer":
        """These fields, given by an invoice, over the organization's profile: each field given
        wins, the address as a whole (half of one address with half of another is nobody's)."""
        given = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name != "address" and getattr(self, field.name)
        }
        address = self.address if any(dataclasses.astuple(self.address)) else profile.address
        return dataclasses.replace(profile, **given, address=address)


@dataclasses.dataclass(frozen=True)
class LineItem:
    description: str
    quantity: Decimal
    unit_price_cents: int
    tax_rate_percent: Decimal
    amounts: LineAmounts
    transaction_id: str | None = None
    employee_contact_id: str | None = None
    employee_name: str | None = None


@dataclasses.dataclass(frozen=True)
class InvoiceContent:
    """Everything a client decides about an invoice, checked; the rest is identity and lifecycle."""

    type: str
    issue_date: int
    due_date: int
    payment_terms: str
    currency: str
    line_items: list[LineItem]
    totals: Totals
    bill_to: BillTo
    issuer: Issuer | None
    notes: str | None
    custom_fields: dict

    def as_fields(self) -> dict:
        """The content's fields by name, nested values as they are (dataclasses.asdict would copy them)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


@dataclasses.dataclass
class Invoice:
    id: str
    organization_id: str
    number: str
    type: str
    status: str
    issue_date: int
    due_date: int
    payment_terms: str
    currency: str
    line_items: list[LineItem]
    totals: Totals
    bill_to: BillTo
    created_by: str
    created_at: int
    updated_at: int
    issuer: Issuer | None = None
    notes: str | None = None
    custom_fields: dict = dataclasses.field(default_factory=dict)
    sent_date: int | None = None
    sent_to: str | None = None
    paid_date: int | None = None
    payment_method: str | None = None
    transaction_ref: str | None = None
    cancelled_date: int | None = None
    cancellation_reason: str | None = None

    @property
    def count_key(self) -> tuple[str, str]:
        """The bucket of the per-organization counts that list totals are read from."""
        return self.status, self.type

    @property
    def overdue_at(self) -> int:
        return overdue_from(self.due_date)

    def status_at(self, now: int) -> str:
        return status_as_read(self.status, self.due_date, now)

    def visible_to_customer(self, contact_id: str, crm_organization_id: str) -> bool:
        """Whether a portal user linked to these CRM records may read it: once sent, when billed to
        them (queries.py filters lists by the same rule in SQL)."""
        return self.status != DRAFT and (
            bool(contact_id)
            and self.bill_to.contact_id == contact_id
            or bool(crm_organization_id)
            and self.bill_to.crm_organization_id == crm_organization_id
        )

    def revise(self, content: "InvoiceContent", now: int) -> None:
        """Replaces the content of a draft; its number stays, so its issue month must too."""
        self.require_draft()
        if invoice_period(content.issue_date) != invoice_period(self.issue_date):
            raise InvalidArgument(
                f"issue_date must stay in {invoice_period(self.issue_date)}: the invoice's "
                f"number {self.number} belongs to that month",
                field="issue_date",
            )
        for field in dataclasses.fields(InvoiceContent):
            setattr(self, field.name, getattr(content, field.name))
        self.updated_at = max(now, self.updated_at + 1)  # a change always moves updatedAt

    def _leave(self, transition: str, now: int) -> None:
        current = self.status_at(now)
        if current not in TRANSITIONS[transition]:
            raise Conflict(
                f"invoice {self.number} is {current}; {transition} needs one of {', '.join(TRANSITIONS[transition])}"
            )
        self.status = current
        self.updated_at = now

    def require_draft(self) -> None:
        """Once sent, an invoice changes only through its transitions."""
        if self.status != DRAFT:
            raise Conflict(f"invoice {self.number} is {self.status}; only drafts can be changed")

    def send(self, sent_date: int, sent_to: str | None, now: int, emailed: bool = True) -> None:
        """Sends a draft to `sent_to`, which a draft billed to no email address must give when the
        invoice is `emailed` (without the email, the client delivers it: sent_to may stay empty)."""
        self._leave("send", now)
        if emailed and not sent_to:
            raise InvalidArgument(
                "sent_to is required: the invoice is billed to no email address (or send it with email: false)",
                field="sent_to",
            )
        self.status = AWAITING_EMPLOYER_PAYMENT if self.type == B2B_CONSOLIDATED else SENT
        self.sent_date, self.sent_to = sent_date, sent_to

    def issuer_with(self, profile: Issuer) -> Issuer | None:
        """Who issues the invoice, given the organization's current profile: once sent, the issuer
        snapshotted then; before, the profile under the fields the invoice gives. (An invoice sent
        before profiles existed keeps the issuer it was sent with, if any.)"""
        if self.sent_date is not None:
            return self.issuer
        return self.issuer.over(profile) if self.issuer else profile

    def snapshot_issuer(self, profile: Issuer) -> None:
        """Fixes the issuer as it is when the invoice is sent: later profile edits never rewrite it."""
        self.issuer = self.issuer.over(profile) if self.issuer else profile

    def pay(self, paid_date: int, method: str, transaction_ref: str | None, now: int) -> None:
        self._leave("pay", now)
        self.status = PAID
        self.paid_date, self.payment_method, self.transaction_ref = paid_date, method, transaction_ref

    def cancel(self, reason: str, now: int) -> None:
        self._leave("cancel", now)
        self.status = CANCELLED
        self.cancelled_date, self.cancellation_reason = now, reason
