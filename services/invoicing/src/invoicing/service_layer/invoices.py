"""Invoicing use cases: one unit of work (transaction) each, committed explicitly.

Calls to the CRM happen before the transaction opens, so no database lock is held across the
network; the transaction then only numbers and stores what was checked.
"""
import dataclasses
import json
import math
from decimal import Decimal
from typing import Callable, Protocol, TypeVar

from invoicing.adapters.crm_client import CrmContact, CrmOrganization
from invoicing.adapters import views
from invoicing.adapters.repository import InvoiceRepository
from invoicing.adapters.views import InvoiceFilter
from invoicing.domain.model import (
    ADDRESS_FIELDS, B2B_CONSOLIDATED, B2C_SINGLE, DEFAULT_PAYMENT_TERMS, DRAFT, MAX_FREE_TEXT, MAX_LINES, PAYMENT_TERMS,
    MAX_TIMESTAMP, STATUSES, TYPES,
    Address, BillTo, Invoice, Issuer, LineItem, due_date, invoice_number, invoice_period,
)
from invoicing.domain.money import (
    MAX_QUANTITY, QUANTITY_PLACES, TAX_RATE_PLACES, Totals, exact_decimal, line_amounts, totals,
)
from invoicing.service_layer.renders import InvoicePdfs
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal_common.auth import Principal
from portal_common.clock import now_ms
from portal_common.currencies import MAX_MINOR_UNITS, check_currency, check_minor_units
from portal_common.db import Database
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.ids import new_id
from portal_common.validation import check_choice, clean_email, clean_text

T = TypeVar("T")

MAX_DESCRIPTION = 1000
MAX_NOTES = 10_000
MAX_REASON = 1000


class Crm(Protocol):
    def contact(self, contact_id: str, credential: str) -> CrmContact | None: ...

    def organization(self, crm_organization_id: str, credential: str) -> CrmOrganization | None: ...


class Delivery(Protocol):
    """Sends a sent invoice to its recipient. Called after the transition is committed, so a slow
    or failing delivery never holds a lock; a real one should queue (an outbox) and retry."""

    def deliver(self, invoice: Invoice) -> None: ...


@dataclasses.dataclass
class LineFields:
    """A line as a request gives it; None means "not given"."""
    description: str | None = None
    quantity: float | None = None
    unit_price_cents: int | None = None
    tax_rate_percent: float | None = None
    total_price_cents: int | None = None
    tax_amount_cents: int | None = None
    transaction_id: str | None = None
    employee_contact_id: str | None = None


@dataclasses.dataclass
class BillToFields:
    contact_id: str | None = None
    crm_organization_id: str | None = None
    name: str | None = None
    email: str | None = None
    address: Address = Address()


@dataclasses.dataclass
class InvoiceFields:
    """The invoice fields a create or update request gives; None means "not given"."""
    type: str | None = None
    issue_date: float | None = None
    due_date: float | None = None
    currency: str | None = None
    payment_terms: str | None = None
    line_items: list[LineFields] | None = None
    bill_to: BillToFields | None = None
    issuer: Issuer | None = None
    notes: str | None = None
    custom_fields: dict | None = None
    subtotal_cents: int | None = None
    tax_amount_cents: int | None = None
    total_amount_cents: int | None = None


@dataclasses.dataclass(frozen=True)
class Content:
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


@dataclasses.dataclass(frozen=True)
class Pdf:
    filename: str
    data: bytes


def timestamp(value: float, field: str) -> int:
    """Unix ms from a JSON number: whole, and a real date."""
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= MAX_TIMESTAMP:
        raise InvalidArgument(f"{field} must be Unix time in whole milliseconds; got {value!r}", field=field)
    return int(value)


def _required(value, field: str):
    if value is None or value == "":
        raise InvalidArgument(f"{field} is required", field=field)
    return value


def _check_given_total(given: int | None, computed: int, field: str) -> None:
    if given is not None and given != computed:
        raise InvalidArgument(f"{field} is {given} but the lines add up to {computed}; totals are computed "
                              f"by the server (leave them out, or send the computed values)", field=field)


def _line(fields: LineFields, index: int, employee: CrmContact | None) -> LineItem:
    field = f"lineItems[{index}].{{}}".format
    description = _required(clean_text(fields.description, field("description"), MAX_DESCRIPTION),
                            field("description"))
    quantity = exact_decimal(_required(fields.quantity, field("quantity")), field("quantity"), QUANTITY_PLACES,
                             Decimal(1).scaleb(-QUANTITY_PLACES), MAX_QUANTITY)
    unit_price = check_minor_units(_required(fields.unit_price_cents, field("unitPriceInCents")),
                                   field("unitPriceInCents"))
    rate = exact_decimal(fields.tax_rate_percent or 0.0, field("taxRatePercent"), TAX_RATE_PLACES,
                         Decimal(0), Decimal(100))
    amounts = line_amounts(quantity, unit_price, rate)
    if amounts.total_cents > MAX_MINOR_UNITS:
        raise InvalidArgument(f"{field('quantity')} × {field('unitPriceInCents')} exceeds {MAX_MINOR_UNITS} minor "
                              f"units, the largest amount an invoice can hold", field=field("quantity"))
    _check_given_total(fields.total_price_cents, amounts.total_cents, field("totalPriceInCents"))
    _check_given_total(fields.tax_amount_cents, amounts.tax_cents, field("taxAmountInCents"))
    return LineItem(description=description, quantity=quantity, unit_price_cents=unit_price,
                    tax_rate_percent=rate, amounts=amounts,
                    transaction_id=clean_text(fields.transaction_id, field("transactionId")),
                    employee_contact_id=employee.id if employee else None,
                    employee_name=employee.name if employee else None)


def _fields_of(invoice: Invoice) -> InvoiceFields:
    """A stored invoice as if a client had given all of it (lines aside: they keep their snapshot)."""
    bill_to = invoice.bill_to
    return InvoiceFields(
        type=invoice.type, issue_date=invoice.issue_date, due_date=invoice.due_date, currency=invoice.currency,
        payment_terms=invoice.payment_terms, issuer=invoice.issuer, notes=invoice.notes,
        custom_fields=invoice.custom_fields,
        bill_to=BillToFields(bill_to.contact_id, bill_to.crm_organization_id, bill_to.name, bill_to.email,
                             bill_to.address))


def _check_free_text(lines: list[LineItem], notes: str | None, custom_fields: dict | None) -> None:
    """The invoice's free text together within MAX_FREE_TEXT characters (see model.py), counted in
    the order the client wrote it; the error names the field that goes past the limit."""
    texts = [(f"lineItems[{i}].{name}", text) for i, line in enumerate(lines) for name, text in (
        ("description", line.description), ("transactionId", line.transaction_id),
        ("employeeContactId", line.employee_name))]
    texts += [("notes", notes), ("customFields", json.dumps(custom_fields, ensure_ascii=False, separators=(",", ":"))
                                 if custom_fields else None)]
    total = 0
    for field, text in texts:
        total += len(text or "")
        if total > MAX_FREE_TEXT:
            raise InvalidArgument(
                f"{field} takes the invoice past {MAX_FREE_TEXT:,} characters of free text (line descriptions, "
                f"transaction ids and employee names, notes and customFields together)", field=field)


def _line_fields_of(line: LineItem) -> LineFields:
    return LineFields(line.description, float(line.quantity), line.unit_price_cents, float(line.tax_rate_percent),
                      transaction_id=line.transaction_id, employee_contact_id=line.employee_contact_id)


class InvoicingService:
    def __init__(self, database: Database, crm: Crm, delivery: Delivery, pdfs: InvoicePdfs):
        self._database = database
        self._crm = crm
        self._delivery = delivery
        self._pdfs = pdfs

    # Writes

    def create_invoice(self, principal: Principal, fields: InvoiceFields, credential: str) -> Invoice:
        content = self._content(fields, credential)

        def create(repo: InvoiceRepository) -> Invoice:
            period = invoice_period(content.issue_date)
            now = now_ms()
            invoice = Invoice(id=new_id("inv"), organization_id=principal.organization_id,
                              number=invoice_number(period, repo.next_sequence(principal.organization_id, period)),
                              status=DRAFT, created_by=principal.credential_id, created_at=now, updated_at=now,
                              **_as_fields(content))
            repo.add(invoice)
            return invoice
        return self._write(create)

    def update_invoice(self, principal: Principal, invoice_id: str, changes: InvoiceFields,
                       credential: str) -> Invoice:
        current = self._read(principal.organization_id, invoice_id)
        current.require_draft()
        merged = _fields_of(current)
        for field in dataclasses.fields(changes):
            value = getattr(changes, field.name)
            if value is not None:
                setattr(merged, field.name, value)
        if changes.due_date is None and (changes.issue_date is not None or changes.payment_terms is not None):
            merged.due_date = None  # follows the new issue date or terms
        rechecked = changes.type is not None or changes.bill_to is not None or changes.line_items is not None
        if merged.line_items is None:
            merged.line_items = [_line_fields_of(line) for line in current.line_items]
        content = self._content(merged, credential, current=None if rechecked else current)
        if invoice_period(content.issue_date) != invoice_period(current.issue_date):
            raise InvalidArgument(f"issueDate must stay in {invoice_period(current.issue_date)}: the invoice's "
                                  f"number {current.number} belongs to that month", field="issueDate")

        def update(repo: InvoiceRepository) -> Invoice:
            invoice = self._locked(repo, principal.organization_id, invoice_id)
            invoice.require_draft()
            if invoice.updated_at != current.updated_at:
                raise Conflict(f"invoice {invoice.number} was changed concurrently; read it again and retry")
            for name, value in _as_fields(content).items():
                setattr(invoice, name, value)
            invoice.updated_at = max(now_ms(), current.updated_at + 1)
            repo.save(invoice)
            return invoice
        return self._write(update)

    def send_invoice(self, principal: Principal, invoice_id: str, sent_date: float | None,
                     sent_to: str | None) -> Invoice:
        when = timestamp(sent_date, "sentDate") if sent_date is not None else None
        recipient = clean_email(sent_to, "sentTo") if sent_to and sent_to.strip() else None

        def send(repo: InvoiceRepository) -> Invoice:
            invoice = self._locked(repo, principal.organization_id, invoice_id)
            now = now_ms()
            to = recipient or invoice.bill_to.email
            if invoice.status == DRAFT and not to:
                raise InvalidArgument("sentTo is required: the invoice's billTo has no email", field="sentTo")
            invoice.send(when if when is not None else now, to, now)
            repo.save(invoice)
            return invoice
        invoice = self._write(send)
        self._delivery.deliver(invoice)
        return invoice

    def pay_invoice(self, principal: Principal, invoice_id: str, paid_date: float | None, method: str | None,
                    transaction_ref: str | None) -> Invoice:
        when = timestamp(paid_date, "paidDate") if paid_date is not None else None
        method = _required(clean_text(method, "paymentMethod"), "paymentMethod")
        reference = clean_text(transaction_ref, "transactionRef")

        def pay(repo: InvoiceRepository) -> Invoice:
            invoice = self._locked(repo, principal.organization_id, invoice_id)
            now = now_ms()
            invoice.pay(when if when is not None else now, method, reference, now)
            repo.save(invoice)
            return invoice
        return self._write(pay)

    def cancel_invoice(self, principal: Principal, invoice_id: str, reason: str | None) -> Invoice:
        reason = _required(clean_text(reason, "reason", MAX_REASON), "reason")

        def cancel(repo: InvoiceRepository) -> Invoice:
            invoice = self._locked(repo, principal.organization_id, invoice_id)
            invoice.cancel(reason, now_ms())
            repo.save(invoice)
            return invoice
        return self._write(cancel)

    def mark_overdue(self, batch: int = 500) -> int:
        """Persists "overdue" on every unpaid invoice past its due date (the periodic job). Readers
        already see it derived, so only the status changes: updatedAt stays."""
        marked = 0
        while True:
            def sweep(repo: InvoiceRepository) -> int:
                due = repo.past_due(now_ms(), batch)
                for invoice in due:
                    invoice.status = invoice.status_at(now_ms())
                    repo.save(invoice)
                return len(due)
            count = self._write(sweep)
            marked += count
            if count < batch:
                return marked

    # Reads

    def get_invoice(self, principal: Principal, invoice_id: str) -> pb.Invoice:
        with self._database.hot() as connection:
            view = views.invoice_view(connection, principal.organization_id, invoice_id, now_ms())
        if view is None or not _visible(principal, view):
            raise NotFound(f"invoice {invoice_id} not found")
        return view

    def list_invoices(self, principal: Principal, where: InvoiceFilter, limit: int, offset: int
                      ) -> pb.ListInvoicesResponse:
        if where.status:
            check_choice(where.status, STATUSES, "status")
        if where.type:
            check_choice(where.type, TYPES, "type")
        for name in ("start_date", "end_date"):
            value = getattr(where, name)
            if value is not None:
                where = dataclasses.replace(where, **{name: timestamp(value, _camel(name))})
        if principal.is_portal_user:
            where = dataclasses.replace(where, portal_user=True, visible_to_contact_id=principal.crm_contact_id,
                                        visible_to_crm_organization_id=principal.crm_organization_id)
        with self._database.hot() as connection:
            return views.invoice_page(connection, principal.organization_id, where, limit, offset, now_ms())

    def list_billed_to(self, principal: Principal, where: InvoiceFilter, limit: int, offset: int, credential: str
                       ) -> pb.ListInvoicesResponse:
        """The invoices billed to one contact or one CRM organization (`where` names it). As on
        every route, an id that is not the caller's is 404: an API key's ids are asked of the CRM
        on its behalf; a portal user may name only its own contact or CRM organization."""
        if where.contact_id:
            kind, wanted, own, lookup = "contact", where.contact_id, principal.crm_contact_id, self._crm.contact
        elif where.crm_organization_id:
            kind, wanted, own, lookup = ("CRM organization", where.crm_organization_id,
                                         principal.crm_organization_id, self._crm.organization)
        else:
            raise InvalidArgument("name a contact or a CRM organization", field="contactId")
        if not (wanted == own if principal.is_portal_user else lookup(wanted, credential) is not None):
            raise NotFound(f"{kind} {wanted} not found")
        return self.list_invoices(principal, where, limit, offset)

    def invoice_pdf(self, principal: Principal, invoice_id: str, keep_going: Callable[[], bool] = lambda: True
                    ) -> Pdf:
        """The invoice's PDF; `keep_going` says whether anybody still waits for it (see renders.py)."""
        view = self.get_invoice(principal, invoice_id)
        return Pdf(f"{view.name}.pdf", self._pdfs.pdf(principal.organization_id, view, keep_going))

    # Helpers

    def _content(self, fields: InvoiceFields, credential: str, current: Invoice | None = None) -> Content:
        """Checks every field of an invoice as a whole. With `current`, its billTo and lines are
        kept as they are (nothing that they depend on changed), so the CRM is not asked again."""
        type_ = check_choice(_required(fields.type, "type"), TYPES, "type")
        currency = check_currency(_required(fields.currency, "currency"))
        terms = check_choice(fields.payment_terms or DEFAULT_PAYMENT_TERMS, tuple(PAYMENT_TERMS), "paymentTerms")
        issue = timestamp(fields.issue_date, "issueDate") if fields.issue_date is not None else now_ms()
        given_due = timestamp(fields.due_date, "dueDate") if fields.due_date is not None else None
        lines = fields.line_items or []
        if not lines:
            raise InvalidArgument("lineItems must hold at least one line", field="lineItems")
        if len(lines) > MAX_LINES:
            raise InvalidArgument(f"lineItems may hold at most {MAX_LINES} lines", field="lineItems")
        if current is not None:
            bill_to, line_items = current.bill_to, current.line_items
        else:
            bill_to, employees = self._bill_to(type_, _required(fields.bill_to, "billTo"), lines, credential)
            line_items = [_line(line, i, employee) for i, (line, employee) in enumerate(zip(lines, employees))]
        notes = clean_text(fields.notes, "notes", MAX_NOTES)
        _check_free_text(line_items, notes, fields.custom_fields)
        invoice_totals = totals([line.amounts for line in line_items])
        _check_given_total(fields.subtotal_cents, invoice_totals.subtotal_cents, "subtotalInCents")
        _check_given_total(fields.tax_amount_cents, invoice_totals.tax_cents, "taxAmountInCents")
        _check_given_total(fields.total_amount_cents, invoice_totals.total_cents, "totalAmountInCents")
        return Content(
            type=type_, issue_date=issue, due_date=due_date(issue, terms, given_due), payment_terms=terms,
            currency=currency, line_items=line_items, totals=invoice_totals, bill_to=bill_to,
            issuer=_issuer(fields.issuer), notes=notes,
            custom_fields=fields.custom_fields or {})

    def _bill_to(self, type_: str, given: BillToFields, lines: list[LineFields], credential: str
                 ) -> tuple[BillTo, list[CrmContact | None]]:
        """The billTo snapshot, checked against the CRM, and the employees the lines name.

        Both ids are optional, as in the seed, except that b2b_single and b2b_consolidated bill a
        CRM organization (the employer). Given ids must be the caller's own, a contact given with an
        organization must belong to it, and they fill what the client left out: from the
        organization for b2b (its billing email), from the contact for b2c. Without either id the
        client names who is billed (name and email). A consolidated invoice's lines each name an
        employee: a contact of that organization.
        """
        contact_id = clean_text(given.contact_id, "billTo.contactId")
        organization_id = clean_text(given.crm_organization_id, "billTo.crmOrganizationId")
        if type_ != B2C_SINGLE:
            _required(organization_id, "billTo.crmOrganizationId")
        organization = self._crm.organization(organization_id, credential) if organization_id else None
        if organization_id and organization is None:
            raise InvalidArgument(f"billTo.crmOrganizationId {organization_id!r} is not a CRM organization of yours",
                                  field="billTo.crmOrganizationId")
        contact = self._crm.contact(contact_id, credential) if contact_id else None
        if contact_id and contact is None:
            raise InvalidArgument(f"billTo.contactId {contact_id!r} is not a contact of yours", field="billTo.contactId")
        if contact and organization and contact.crm_organization_id != organization.id:
            raise InvalidArgument(f"billTo.contactId {contact_id!r} is not a contact of CRM organization "
                                  f"{organization_id}", field="billTo.contactId")
        employees = self._employees(type_, organization, lines, credential)
        name = clean_text(given.name, "billTo.name")
        email = given.email.strip() if given.email and given.email.strip() else None
        if type_ == B2C_SINGLE and contact:
            crm_name, crm_email = contact.name, contact.email
        elif organization:
            crm_name, crm_email = organization.name, organization.billing_email or (contact.email if contact else None)
        else:  # no CRM record: the client names who is billed
            _required(name, "billTo.name")
            _required(email, "billTo.email")
            crm_name = crm_email = None
        bill_to = BillTo(
            name=name or crm_name, contact_id=contact_id, crm_organization_id=organization_id,
            email=clean_email(email, "billTo.email") if email else crm_email,
            address=_clean_address(given.address, "billTo.address") if any(
                dataclasses.astuple(given.address)) else (organization.address if organization else Address()),
        )
        return bill_to, employees

    def _employees(self, type_: str, organization: CrmOrganization | None, lines: list[LineFields],
                   credential: str) -> list[CrmContact | None]:
        """The employee each line names (None for every line of the other types), each asked once."""
        found: dict[str, CrmContact] = {}
        employees: list[CrmContact | None] = []
        for i, line in enumerate(lines):
            field = f"lineItems[{i}].employeeContactId"
            contact_id = clean_text(line.employee_contact_id, field)
            if type_ != B2B_CONSOLIDATED:
                if contact_id:
                    raise InvalidArgument("only b2b_consolidated lines name an employee; leave employeeContactId "
                                          "out", field=field)
                employees.append(None)
                continue
            _required(contact_id, field)
            if contact_id not in found:
                employee = self._crm.contact(contact_id, credential)
                if employee is None or employee.crm_organization_id != organization.id:
                    raise InvalidArgument(f"{field} {contact_id!r} is not a contact of CRM organization "
                                          f"{organization.id}", field=field)
                found[contact_id] = employee
            employees.append(found[contact_id])
        return employees

    def _read(self, organization_id: str, invoice_id: str) -> Invoice:
        with self._database.read() as connection:
            return self._found(InvoiceRepository(connection).get(organization_id, invoice_id), invoice_id)

    def _locked(self, repo: InvoiceRepository, organization_id: str, invoice_id: str) -> Invoice:
        return self._found(repo.get(organization_id, invoice_id), invoice_id)

    @staticmethod
    def _found(invoice: Invoice | None, invoice_id: str) -> Invoice:
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} not found")
        return invoice

    def _write(self, work: Callable[[InvoiceRepository], T]) -> T:
        return self._database.run_write(lambda connection: work(InvoiceRepository(connection, locking=True)))


def _visible(principal: Principal, view: pb.Invoice) -> bool:
    """API keys see their organization's invoices; a portal user only those sent to them."""
    if not principal.is_portal_user:
        return True
    bill_to = view.custom_properties.bill_to
    return view.status != DRAFT and (
        bool(principal.crm_contact_id) and bill_to.contact_id == principal.crm_contact_id
        or bool(principal.crm_organization_id) and bill_to.crm_organization_id == principal.crm_organization_id)


def _issuer(issuer: Issuer | None) -> Issuer | None:
    if issuer is None:
        return None
    email = issuer.email.strip() if issuer.email and issuer.email.strip() else None
    return Issuer(name=_required(clean_text(issuer.name, "issuer.name"), "issuer.name"),
                  email=clean_email(email, "issuer.email") if email else None,
                  address=_clean_address(issuer.address, "issuer.address"),
                  tax_id=clean_text(issuer.tax_id, "issuer.taxId"))


def _clean_address(address: Address, prefix: str) -> Address:
    return Address(**{name: clean_text(getattr(address, name), f"{prefix}.{_camel(name)}") for name in ADDRESS_FIELDS})


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _as_fields(content: Content) -> dict:
    """The content's fields by name, nested values as they are (dataclasses.asdict would copy them)."""
    return {field.name: getattr(content, field.name) for field in dataclasses.fields(Content)}
