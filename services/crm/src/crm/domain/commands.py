"""What callers ask the CRM to do, as plain values built once at the api boundary. Standard library only."""

import dataclasses
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class _Sent:
    # Where the client wrote each attribute (attribute -> path in its request body), recorded by the
    # api mapping: the same details come in two body shapes (a contact, an event's attendee), and
    # errors must name a field where it was sent, even when a message names two fields. An
    # attribute not recorded is named as it is (unit tests, internal callers).
    sent_as: Mapping[str, str] = dataclasses.field(default_factory=dict, kw_only=True, compare=False)

    def path(self, attribute: str) -> str:
        return self.sent_as.get(attribute, attribute)


@dataclasses.dataclass(frozen=True)
class ContactDetails(_Sent):
    """Contact fields given to an upsert; None (no tags, "" for the email) means "not given"."""

    email: str = ""
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    job_title: str | None = None
    subtype: str | None = None
    source: str | None = None
    source_ref: str | None = None
    notes: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    custom_fields: dict | None = None


ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country")


@dataclasses.dataclass(frozen=True)
class OrganizationDetails(_Sent):
    """The CRM organization a new contact belongs to, found by name or website, else created."""

    name: str | None = None
    website: str | None = None
    industry: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    tax_id: str | None = None
    billing_email: str | None = None
    phone: str | None = None


@dataclasses.dataclass(frozen=True)
class EventDetails(_Sent):
    event_id: str
    event_name: str
    event_date: float  # as sent: a whole number of Unix milliseconds is checked by the use case


@dataclasses.dataclass(frozen=True)
class ContactChanges:
    """A partial update of a contact: the attributes the client gave (`given`), each with its value;
    None clears an optional attribute, and attributes not given stay as they are. Built once at the
    boundary from what the client sent; Contact.apply checks the values."""

    given: tuple[str, ...] = ()
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    job_title: str | None = None
    subtype: str | None = None
    status: str | None = None
    source: str | None = None
    source_ref: str | None = None
    tags: list[str] | None = None
    notes: str | None = None
    custom_fields: dict | None = None
    crm_organization_id: str | None = None
    portal_access: str | None = None

    @classmethod
    def of(cls, **values) -> "ContactChanges":
        """`ContactChanges.of(phone=None, tags=["vip"])`: exactly these attributes are changed."""
        return cls(given=tuple(values), **values)
