"""Invoicing use cases: each takes a unit of work from its factory, raises domain errors and
returns domain objects.

Calls to the CRM happen before the write transaction opens, so no database lock is held across
the network; the transaction then only numbers and stores what was checked. Each write records
the event of its change in its unit of work (docs/events.md).
"""

import copy
import dataclasses
import json
from decimal import Decimal
from typing import Callable, Protocol, TypeVar

from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.domain.email import INVOICE
from invoicing.domain.model import (
    ADDRESS_FIELDS,
    B2B_CONSOLIDATED,
    B2C_SINGLE,
    DEFAULT_PAYMENT_TERMS,
    DRAFT,
    MAX_FREE_TEXT,
    MAX_LINES,
    PAYMENT_TERMS,
    TYPES,
    Address,
    BillTo,
    Invoice,
    InvoiceContent,
    Issuer,
    LineItem,
    due_date,
    invoice_number,
    invoice_period,
)
from invoicing.domain.money import MAX_QUANTITY, QUANTITY_PLACES, TAX_RATE_PLACES, exact_decimal, line_amounts, totals
from invoicing.service_layer.email_queue import EmailQueue, OutboundEmails
from invoicing.service_layer.renders import InvoicePdfs
from portal_common.clock import now_ms
from portal_common.currencies import MAX_MINOR_UNITS, check_currency, check_minor_units
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.ids import new_id
from portal_common.outbox import EventRecorder, changed
from portal_common.principal import Principal
from portal_common.timestamps import check_timestamp
from portal_common.uow import UnitOfWork
from portal_common.validation import check_choice, clean_email, clean_text

T = TypeVar("T")

MAX_DESCRIPTION = 1000
MAX_NOTES = 10_000
MAX_REASON = 1000


@dataclasses.dataclass(frozen=True)
class CrmContact:
    id: str
    name: str
    email: str
    crm_organization_id: str | None


@dataclasses.dataclass(frozen=True)
class CrmOrganization:
    id: str
    name: str
    billing_email: str | None
    address: Address
    tax_id: str | None = None


class Crm(Protocol):
    """The CRM records invoices bill, asked with the caller's credential: another organization's
    record is None, as one that does not exist."""

    def contact(self, contact_id: str, credential: str) -> CrmContact | None: ...

    def organization(self, crm_organization_id: str, credential: str) -> CrmOrganization | None: ...


class OrganizationProfiles(Protocol):
    """The issuer of an organization's invoices: its profile (the auth service's, asked with the
    internal credential)."""

    def issuer(self, organization_id: str) -> Issuer: ...


class Invoices(Protocol):
    """The invoices of one unit of work (adapters/repository.py; a fake in the unit tests)."""

    def next_sequence(self, organization_id: str, period: str) -> int: ...

    def add(self, invoice: Invoice) -> None: ...

    def get(self, organization_id: str, invoice_id: str) -> Invoice | None: ...

    def save(self, invoice: Invoice) -> None: ...

    def past_due(self, now: int, batch: int) -> list[Invoice]: ...


class InvoicingUnitOfWork(UnitOfWork, Protocol):
    @property  # read-only, so that a unit of work may hold any implementation of Invoices
    def invoices(self) -> Invoices: ...

    @property
    def emails(self) -> OutboundEmails: ...

    @property
    def events(self) -> EventRecorder: ...


@dataclasses.dataclass(frozen=True)
class Pdf:
    filename: str
    data: bytes


def _required(value: T | None, field: str) -> T:
    if value is None or value == "":
        raise InvalidArgument(f"{field} is required", field=field)
    return value


def _timestamp(value: float | None, field: str) -> int | None:
    return check_timestamp(value, field) if value is not None else None


def _check_given_total(given: int | None, computed: int, field: str) -> None:
    if given is not None and given != computed:
        raise InvalidArgument(
            f"{field} is {given} but the lines add up to {computed}; totals are computed "
            f"by the server (leave them out, or send the computed values)",
            field=field,
        )


def _line(fields: LineFields, index: int, employee: CrmContact | None) -> LineItem:
    field = f"line_items[{index}].{{}}".format
    description = _required(clean_text(fields.description, field("description"), MAX_DESCRIPTION), field("description"))
    quantity = exact_decimal(
        _required(fields.quantity, field("quantity")),
        field("quantity"),
        QUANTITY_PLACES,
        Decimal(1).scaleb(-QUANTITY_PLACES),
        MAX_QUANTITY,
    )
    unit_price = check_minor_units(
        _required(fields.unit_price_cents, field("unit_price_in_cents")), field("unit_price_in_cents")
    )
    rate = exact_decimal(
        fields.tax_rate_percent or 0.0, field("tax_rate_percent"), TAX_RATE_PLACES, Decimal(0), Decimal(100)
    )
    amounts = line_amounts(quantity, unit_price, rate)
    if amounts.total_cents > MAX_MINOR_UNITS:
        raise InvalidArgument(
            f"{field('quantity')} × {field('unit_price_in_cents')} exceeds {MAX_MINOR_UNITS} "
            f"minor units, the largest amount an invoice can hold",
            field=field("quantity"),
        )
    _check_given_total(fields.total_price_cents, amounts.total_cents, field("total_price_in_cents"))
    _check_given_total(fields.tax_amount_cents, amounts.tax_cents, field("tax_amount_in_cents"))
    return LineItem(
        description=description,
        quantity=quantity,
        unit_price_cents=unit_price,
        tax_rate_percent=rate,
        amounts=amounts,
        transaction_id=clean_text(fields.transaction_id, field("transaction_id")),
        employee_contact_id=employee.id if employee else None,
        employee_name=employee.name if employee else None,
    )


def _check_free_text(lines: list[LineItem], notes: str | None, custom_fields: dict | None) -> None:
    """The invoice's free text together within MAX_FREE_TEXT characters (see model.py), counted in
    the order the client wrote it; the error names the field that goes past the limit."""
    texts = [
        (f"line_items[{i}].{name}", text)
        for i, line in enumerate(lines)
        for name, text in (
            ("description", line.description),
            ("transaction_id", line.transaction_id),
            ("employee_contact_id", line.employee_name),
        )
    ]
    texts += [
        ("notes", notes),
        (
            "custom_fields",
            json.dumps(custom_fields, ensure_ascii=False, separators=(",", ":")) if custom_fields else None,
        ),
    ]
    total = 0
    for field, text in texts:
        total += len(text or "")
        if total > MAX_FREE_TEXT:
            raise InvalidArgument(
                f"{field} takes the invoice past {MAX_FREE_TEXT:,} characters of free text (line descriptions, "
                f"transaction ids and employee names, notes and custom fields together)",
                field=field,
            )


def _found(invoice: Invoice | None, invoice_id: str) -> Invoice:
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return invoice


class InvoicingService:
    def __init__(
        self,
        uow: Callable[..., InvoicingUnitOfWork],
        crm: Crm,
        emails: EmailQueue,
        pdfs: InvoicePdfs,
        profiles: OrganizationProfiles,
        clock: Callable[[], int] = now_ms,
    ):
        self._uow = uow
        self._crm = crm
        self._emails = emails
        self._pdfs = pdfs
        self._profiles = profiles
        self._clock = clock

    # Writes

    def create_invoice(self, principal: Principal, fields: InvoiceFields, credential: str) -> Invoice:
        content = self._content(fields, credential)
        period = invoice_period(content.issue_date)
        with self._uow() as uow:
            now = self._clock()
            invoice = Invoice(
                id=new_id("inv"),
                organization_id=principal.organization_id,
                number=invoice_number(period, uow.invoices.next_sequence(principal.organization_id, period)),
                status=DRAFT,
                created_by=principal.credential_id,
                created_at=now,
                updated_at=now,
                **content.as_fields(),
            )
            uow.invoices.add(invoice)
            uow.events.add("invoice.created", invoice.organization_id, invoice)
            uow.commit()
        return invoice

    def update_invoice(self, principal: Principal, invoice_id: str, changes: InvoiceFields, credential: str) -> Invoice:
        with self._uow(read_only=True) as uow:  # read, then checked (the CRM asked) outside the transaction
            current = _found(uow.invoices.get(principal.organization_id, invoice_id), invoice_id)
        current.require_draft()
        content = self._content(
            changes.over(current), credential, current=None if changes.rechecks_parties else current
        )
        with self._uow() as uow:
            invoice = _found(uow.invoices.get(principal.organization_id, invoice_id), invoice_id)
            invoice.require_draft()
            if invoice.updated_at != current.updated_at:
                raise Conflict(f"invoice {invoice.number} was changed concurrently; read it again and retry")
            before = copy.deepcopy(invoice)
            invoice.revise(content, self._clock())
            uow.invoices.save(invoice)
            if changed(before, invoice):
                uow.events.add("invoice.updated", invoice.organization_id, invoice)
            uow.commit()
        return invoice

    def send_invoice(
        self,
        principal: Principal,
        invoice_id: str,
        sent_date: float | None,
        sent_to: str | None,
        email: bool = True,
    ) -> Invoice:
        """Sends a draft and, unless `email` is False, queues its email to sent_to in the same
        transaction, once the issuer is snapshotted: the email goes if and only if the invoice was
        sent."""
        when = _timestamp(sent_date, "sent_date")
        recipient = clean_email(sent_to, "sent_to") if sent_to and sent_to.strip() else None
        profile = self._profiles.issuer(principal.organization_id)  # asked before the transaction opens
        with self._uow() as uow:
            invoice = _found(uow.invoices.get(principal.organization_id, invoice_id), invoice_id)
            now = self._clock()
            invoice.send(when if when is not None else now, recipient or invoice.bill_to.email, now, emailed=email)
            invoice.snapshot_issuer(profile)
            uow.invoices.save(invoice)
            uow.events.add("invoice.sent", invoice.organization_id, invoice)
            if email and invoice.sent_to:
                self._emails.add(uow.emails, invoice, invoice.sent_to, INVOICE, now)
            uow.commit()
        if email:
            self._emails.queued()
        return invoice

    def pay_invoice(
        self,
        principal: Principal,
        invoice_id: str,
        paid_date: float | None,
        method: str | None,
        transaction_ref: str | None,
    ) -> Invoice:
        when = _timestamp(paid_date, "paid_date")
        method = _required(clean_text(method, "payment_method"), "payment_method")
        reference = clean_text(transaction_ref, "transaction_ref")
        with self._uow() as uow:
            invoice = _found(uow.invoices.get(principal.organization_id, invoice_id), invoice_id)
            now = self._clock()
            invoice.pay(when if when is not None else now, method, reference, now)
            uow.invoices.save(invoice)
            uow.events.add("invoice.paid", invoice.organization_id, invoice)
            uow.commit()
        return invoice

    def cancel_invoice(self, principal: Principal, invoice_id: str, reason: str | None) -> Invoice:
        reason = _required(clean_text(reason, "reason", MAX_REASON), "reason")
        with self._uow() as uow:
            invoice = _found(uow.invoices.get(principal.organization_id, invoice_id), invoice_id)
            invoice.cancel(reason, self._clock())
            uow.invoices.save(invoice)
            uow.events.add("invoice.cancelled", invoice.organization_id, invoice)
            uow.commit()
        return invoice

    def mark_overdue(self, batch: int = 500) -> int:
        """Persists "overdue" on every unpaid invoice past its due date (the periodic job). Readers
        already see it derived, so only the status changes: updatedAt stays."""
        marked = 0
        while True:
            with self._uow() as uow:
                now = self._clock()
                due = uow.invoices.past_due(now, batch)
                for invoice in due:
                    invoice.status = invoice.status_at(now)
                    uow.invoices.save(invoice)
                    uow.events.add("invoice.overdue", invoice.organization_id, invoice)
                uow.commit()
            marked += len(due)
            if len(due) < batch:
                return marked

    # Reads that are not hot (the hot ones are queries.py)

    def invoice_pdf(self, principal: Principal, invoice_id: str, keep_going: Callable[[], bool] = lambda: True) -> Pdf:
        """The invoice's PDF, as it reads now; `keep_going` says whether anybody still waits for it
        (see renders.py)."""
        with self._uow(read_only=True) as uow:
            invoice = uow.invoices.get(principal.organization_id, invoice_id)
        if (
            invoice is None
            or principal.is_portal_user
            and not invoice.visible_to_customer(principal.crm_contact_id, principal.crm_organization_id)
        ):
            raise NotFound(f"invoice {invoice_id} not found")
        invoice.status = invoice.status_at(self._clock())  # as read, never saved
        if invoice.sent_date is None:  # not sent: the current profile (a part of the PDF cache's key)
            invoice.issuer = invoice.issuer_with(self._profiles.issuer(principal.organization_id))
        return Pdf(f"{invoice.number}.pdf", self._pdfs.pdf(principal.organization_id, invoice, keep_going))

    def check_billed_party(
        self, principal: Principal, contact_id: str, crm_organization_id: str, credential: str
    ) -> None:
        """Before listing the invoices billed to one contact or one CRM organization: as on every
        route, an id that is not the caller's is 404. An API key's ids are asked of the CRM on its
        behalf; a portal user may name only its own contact or CRM organization."""
        lookup: Callable[[str, str], CrmContact | CrmOrganization | None]
        if contact_id:
            kind, wanted, own, lookup = "contact", contact_id, principal.crm_contact_id, self._crm.contact
        elif crm_organization_id:
            kind, wanted, own, lookup = (
                "CRM organization",
                crm_organization_id,
                principal.crm_organization_id,
                self._crm.organization,
            )
        else:
            raise InvalidArgument("name a contact or a CRM organization", field="contact_id")
        if not (wanted == own if principal.is_portal_user else lookup(wanted, credential) is not None):
            raise NotFound(f"{kind} {wanted} not found")

    # Helpers

    def _content(self, fields: InvoiceFields, credential: str, current: Invoice | None = None) -> InvoiceContent:
        """Checks every field of an invoice as a whole. With `current`, its billTo and lines are
        kept as they are (nothing that they depend on changed), so the CRM is not asked again."""
        type_ = check_choice(_required(fields.type, "type"), TYPES, "type")
        currency = check_currency(_required(fields.currency, "currency"))
        terms = check_choice(fields.payment_terms or DEFAULT_PAYMENT_TERMS, tuple(PAYMENT_TERMS), "payment_terms")
        issue = _timestamp(fields.issue_date, "issue_date")
        issue = self._clock() if issue is None else issue
        given_due = _timestamp(fields.due_date, "due_date")
        lines = fields.line_items or []
        if not lines:
            raise InvalidArgument("line_items must hold at least one line", field="line_items")
        if len(lines) > MAX_LINES:
            raise InvalidArgument(f"line_items may hold at most {MAX_LINES} lines", field="line_items")
        if current is not None:
            bill_to, line_items = current.bill_to, current.line_items
        else:
            bill_to, employees = self._bill_to(type_, _required(fields.bill_to, "bill_to"), lines, credential)
            line_items = [
                _line(line, i, employee) for i, (line, employee) in enumerate(zip(lines, employees, strict=True))
            ]
        notes = clean_text(fields.notes, "notes", MAX_NOTES)
        _check_free_text(line_items, notes, fields.custom_fields)
        invoice_totals = totals([line.amounts for line in line_items])
        _check_given_total(fields.subtotal_cents, invoice_totals.subtotal_cents, "subtotal_in_cents")
        _check_given_total(fields.tax_amount_cents, invoice_totals.tax_cents, "tax_amount_in_cents")
        _check_given_total(fields.total_amount_cents, invoice_totals.total_cents, "total_amount_in_cents")
        return InvoiceContent(
            type=type_,
            issue_date=issue,
            due_date=due_date(issue, terms, given_due),
            payment_terms=terms,
            currency=currency,
            line_items=line_items,
            totals=invoice_totals,
            bill_to=bill_to,
            issuer=_issuer(fields.issuer),
            notes=notes,
            custom_fields=fields.custom_fields or {},
        )

    def _bill_to(
        self, type_: str, given: BillToFields, lines: list[LineFields], credential: str
    ) -> tuple[BillTo, list[CrmContact | None]]:
        """The billTo snapshot, checked against the CRM, and the employees the lines name.

        Both ids are optional, as in the seed, except that b2b_single and b2b_consolidated bill a
        CRM organization (the employer). Given ids must be the caller's own, a contact given with an
        organization must belong to it, and they fill what the client left out: from the
        organization for b2b (its billing email), from the contact for b2c. Without either id the
        client names who is billed (name and email). A consolidated invoice's lines each name an
        employee: a contact of that organization.
        """
        contact_id = clean_text(given.contact_id, "bill_to.contact_id")
        organization_id = clean_text(given.crm_organization_id, "bill_to.crm_organization_id")
        if type_ != B2C_SINGLE:
            _required(organization_id, "bill_to.crm_organization_id")
        organization = self._crm.organization(organization_id, credential) if organization_id else None
        if organization_id and organization is None:
            raise InvalidArgument(
                f"bill_to.crm_organization_id {organization_id!r} is not a CRM organization of yours",
                field="bill_to.crm_organization_id",
            )
        contact = self._crm.contact(contact_id, credential) if contact_id else None
        if contact_id and contact is None:
            raise InvalidArgument(
                f"bill_to.contact_id {contact_id!r} is not a contact of yours", field="bill_to.contact_id"
            )
        if contact and organization and contact.crm_organization_id != organization.id:
            raise InvalidArgument(
                f"bill_to.contact_id {contact_id!r} is not a contact of CRM organization {organization_id}",
                field="bill_to.contact_id",
            )
        employees = self._employees(type_, organization, lines, credential)
        name = clean_text(given.name, "bill_to.name")
        email = given.email.strip() if given.email and given.email.strip() else None
        crm_email: str | None
        if type_ == B2C_SINGLE and contact:
            crm_name, crm_email = contact.name, contact.email
        elif organization:
            crm_name, crm_email = organization.name, organization.billing_email or (contact.email if contact else None)
        else:  # no CRM record: the client names who is billed
            crm_name = _required(name, "bill_to.name")
            _required(email, "bill_to.email")
            crm_email = None
        bill_to = BillTo(
            name=name or crm_name,
            contact_id=contact_id,
            crm_organization_id=organization_id,
            email=clean_email(email, "bill_to.email") if email else crm_email,
            address=_clean_address(given.address, "bill_to.address")
            if any(dataclasses.astuple(given.address))
            else (organization.address if organization else Address()),
            tax_id=organization.tax_id if organization else None,
            # A b2b invoice bills the organization; the contact is whom it is for (b2c: billTo itself).
            contact_name=contact.name if contact and type_ != B2C_SINGLE else None,
        )
        return bill_to, employees

    def _employees(
        self, type_: str, organization: CrmOrganization | None, lines: list[LineFields], credential: str
    ) -> list[CrmContact | None]:
        """The employee each line names (None for every line of the other types), each asked once."""
        employer_id = organization.id if organization else None  # _bill_to requires it of b2b types
        found: dict[str, CrmContact] = {}
        employees: list[CrmContact | None] = []
        for i, line in enumerate(lines):
            field = f"line_items[{i}].employee_contact_id"
            contact_id = clean_text(line.employee_contact_id, field)
            if type_ != B2B_CONSOLIDATED:
                if contact_id:
                    raise InvalidArgument(
                        f"only b2b_consolidated lines name an employee; leave {field} out", field=field
                    )
                employees.append(None)
                continue
            contact_id = _required(contact_id, field)
            if contact_id not in found:
                employee = self._crm.contact(contact_id, credential)
                if employee is None or employee.crm_organization_id != employer_id:
                    raise InvalidArgument(
                        f"{field} {contact_id!r} is not a contact of CRM organization {employer_id}", field=field
                    )
                found[contact_id] = employee
            employees.append(found[contact_id])
        return employees


def _issuer(issuer: Issuer | None) -> Issuer | None:
    if issuer is None:
        return None
    email = issuer.email.strip() if issuer.email and issuer.email.strip() else None
    return Issuer(
        name=_required(clean_text(issuer.name, "issuer.name"), "issuer.name"),
        email=clean_email(email, "issuer.email") if email else None,
        address=_clean_address(issuer.address, "issuer.address"),
        tax_id=clean_text(issuer.tax_id, "issuer.tax_id"),
        legal_name=clean_text(issuer.legal_name, "issuer.legal_name"),
        phone=clean_text(issuer.phone, "issuer.phone"),
        website=clean_text(issuer.website, "issuer.website"),
    )


def _clean_address(address: Address, prefix: str) -> Address:
    return Address(**{name: clean_text(getattr(address, name), f"{prefix}.{name}") for name in ADDRESS_FIELDS})
