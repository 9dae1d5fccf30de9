"""Read models: the protobuf view of an invoice, and the queries that read it.

An invoice is read far more often than written and always whole, so its row stores the API's own
message (column `view`): reads return it as is, and writes rebuild the domain object from it
(see repository.py). Money in it is doubles holding whole minor units (exact up to 2^53), as the
API prints it; a change of the message's wire format needs a migration of the stored rows
(migrations/versions/0004).
"""
import dataclasses
import functools
from decimal import Decimal

import sqlalchemy as sa
from google.protobuf import json_format

from invoicing.adapters.tables import invoice_counts, invoices
from invoicing.domain.model import (
    ADDRESS_FIELDS, CANCELLED, DRAFT, OVERDUE, UNPAID, Address, BillTo, Invoice, Issuer, LineItem, overdue_from,
)
from invoicing.domain.money import LineAmounts, Totals
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal_common.db import HotConnection, HotQuery
from portal_common.wire import repeated_message_field

_INVOICES_FIELD = pb.ListInvoicesResponse.DESCRIPTOR.fields_by_name["invoices"].number
_VIEW_BY_ID = HotQuery(sa.select(invoices.c.view).where(
    invoices.c.organization_id == sa.bindparam("organization_id"), invoices.c.id == sa.bindparam("invoice_id")))

def given(message, name):
    """The value of an optional field, None when unset."""
    return getattr(message, name) if message.HasField(name) else None


def _address_message(address: Address) -> pb.Address:
    return pb.Address(**{name: getattr(address, name) for name in ADDRESS_FIELDS})


def address_of(message: pb.Address) -> Address:
    return Address(**{name: given(message, name) for name in ADDRESS_FIELDS})


def invoice_message(invoice: Invoice) -> pb.Invoice:
    bill_to = invoice.bill_to
    properties = pb.InvoiceProperties(
        invoice_number=invoice.number, type=invoice.type, issue_date=invoice.issue_date,
        due_date=invoice.due_date, sent_date=invoice.sent_date, currency=invoice.currency,
        subtotal_in_cents=invoice.totals.subtotal_cents, tax_amount_in_cents=invoice.totals.tax_cents,
        total_amount_in_cents=invoice.totals.total_cents,
        line_items=[pb.LineItem(
            transaction_id=line.transaction_id, description=line.description, quantity=float(line.quantity),
            unit_price_in_cents=line.unit_price_cents, total_price_in_cents=line.amounts.total_cents,
            tax_rate_percent=float(line.tax_rate_percent), tax_amount_in_cents=line.amounts.tax_cents,
            employee_contact_id=line.employee_contact_id, employee_name=line.employee_name,
        ) for line in invoice.line_items],
        bill_to=pb.BillTo(contact_id=bill_to.contact_id, crm_organization_id=bill_to.crm_organization_id,
                          name=bill_to.name, email=bill_to.email, address=_address_message(bill_to.address)),
        payment_terms=invoice.payment_terms, notes=invoice.notes, sent_to=invoice.sent_to,
        paid_date=invoice.paid_date, payment_method=invoice.payment_method,
        transaction_ref=invoice.transaction_ref, cancelled_date=invoice.cancelled_date,
        cancellation_reason=invoice.cancellation_reason,
    )
    if invoice.custom_fields:
        properties.custom_fields.update(invoice.custom_fields)
    if invoice.issuer:
        issuer = invoice.issuer
        properties.issuer.CopyFrom(pb.Issuer(name=issuer.name, email=issuer.email, tax_id=issuer.tax_id,
                                             address=_address_message(issuer.address)))
    return pb.Invoice(
        id=invoice.id, organization_id=invoice.organization_id, type="invoice", subtype=invoice.type,
        name=invoice.number, status=invoice.status, custom_properties=properties,
        created_by=invoice.created_by, created_at=invoice.created_at, updated_at=invoice.updated_at)


def invoice_from_message(message: pb.Invoice) -> Invoice:
    p = message.custom_properties
    bill_to = BillTo(name=p.bill_to.name, contact_id=given(p.bill_to, "contact_id"),
                     crm_organization_id=given(p.bill_to, "crm_organization_id"),
                     email=given(p.bill_to, "email"), address=address_of(p.bill_to.address))
    issuer = None
    if p.HasField("issuer"):
        issuer = Issuer(name=p.issuer.name, email=given(p.issuer, "email"), tax_id=given(p.issuer, "tax_id"),
                        address=address_of(p.issuer.address))
    lines = [LineItem(
        description=line.description, quantity=Decimal(repr(line.quantity)),
        unit_price_cents=int(line.unit_price_in_cents), tax_rate_percent=Decimal(repr(line.tax_rate_percent)),
        amounts=LineAmounts(int(line.total_price_in_cents), int(line.tax_amount_in_cents)),
        transaction_id=given(line, "transaction_id"), employee_contact_id=given(line, "employee_contact_id"),
        employee_name=given(line, "employee_name"),
    ) for line in p.line_items]
    return Invoice(
        id=message.id, organization_id=message.organization_id, number=p.invoice_number, type=p.type,
        status=message.status, issue_date=int(p.issue_date), due_date=int(p.due_date),
        payment_terms=p.payment_terms, currency=p.currency, line_items=lines,
        totals=Totals(int(p.subtotal_in_cents), int(p.tax_amount_in_cents), int(p.total_amount_in_cents)),
        bill_to=bill_to, issuer=issuer, notes=given(p, "notes"),
        custom_fields=json_format.MessageToDict(p.custom_fields) if p.HasField("custom_fields") else {},
        created_by=message.created_by, created_at=int(message.created_at), updated_at=int(message.updated_at),
        sent_date=_int(p, "sent_date"), sent_to=given(p, "sent_to"), paid_date=_int(p, "paid_date"),
        payment_method=given(p, "payment_method"), transaction_ref=given(p, "transaction_ref"),
        cancelled_date=_int(p, "cancelled_date"), cancellation_reason=given(p, "cancellation_reason"),
    )


def _int(message, name) -> int | None:
    value = given(message, name)
    return None if value is None else int(value)


def as_read_at(message: pb.Invoice, now: int) -> pb.Invoice:
    """The stored view as a reader sees it at `now`: unpaid and past due reads as overdue, before
    the overdue job has persisted it."""
    if message.status in UNPAID and now >= overdue_from(int(message.custom_properties.due_date)):
        message.status = OVERDUE
    return message


@dataclasses.dataclass(frozen=True)
class InvoiceFilter:
    """What a list asks for. `visible_to_*` restrict a portal user's lists to their own invoices."""
    status: str = ""
    type: str = ""
    contact_id: str = ""
    crm_organization_id: str = ""
    start_date: int | None = None
    end_date: int | None = None
    include_cancelled: bool = True
    portal_user: bool = False
    visible_to_contact_id: str = ""
    visible_to_crm_organization_id: str = ""

    def shape(self) -> tuple:
        """What decides the statement's form (values are bound later)."""
        status_kind = ("" if not self.status else "overdue" if self.status == OVERDUE
                       else "unpaid" if self.status in UNPAID else "plain")
        return (status_kind, bool(self.type), bool(self.contact_id), bool(self.crm_organization_id),
                self.start_date is not None, self.end_date is not None, self.include_cancelled, self.portal_user)


@functools.cache
def _list_queries(status_kind: str, type_: bool, contact: bool, crm_organization: bool, start: bool, end: bool,
                  include_cancelled: bool, portal_user: bool) -> tuple[HotQuery, HotQuery]:
    """(page, total) statements for one shape of filter, built once.

    The status filter matches statuses as they read: "overdue" also finds unpaid invoices whose
    due date has passed, and "sent" leaves those out, before the overdue job persists them.
    Totals that do not depend on the time or on the billTo come from the invoice_counts counters,
    so that they cost the same at 100k invoices as at ten; the others count rows.
    """
    param, c = sa.bindparam, invoices.c
    # One term per unpaid status (not status.in_(UNPAID): an IN list expands at execution time,
    # which HotQuery's precompiled SQL skips), each a range of the invoices_past_due index.
    past_due = [sa.and_(c.status == status, c.overdue_at <= param("now")) for status in UNPAID]
    conditions = [c.organization_id == param("organization_id")]
    if status_kind == "overdue":
        conditions.append(sa.or_(c.status == OVERDUE, *past_due))
    elif status_kind == "unpaid":
        conditions += [c.status == param("status"), c.overdue_at > param("now")]
    elif status_kind == "plain":
        conditions.append(c.status == param("status"))
    if type_:
        conditions.append(c.type == param("type"))
    if contact:
        conditions.append(c.bill_to_contact_id == param("contact_id"))
    if crm_organization:
        conditions.append(c.bill_to_crm_organization_id == param("crm_organization_id"))
    if start:
        conditions.append(c.issue_date >= param("start_date"))
    if end:
        conditions.append(c.issue_date <= param("end_date"))
    if not include_cancelled:
        conditions.append(c.status != CANCELLED)
    if portal_user:
        # Drafts are not issued yet: a customer sees an invoice from the moment it is sent.
        conditions += [c.status != DRAFT, sa.or_(c.bill_to_contact_id == param("visible_contact_id"),
                                                 c.bill_to_crm_organization_id == param("visible_crm_organization_id"))]
    page = (sa.select(c.view).where(*conditions).order_by(c.created_at.desc(), c.id.desc())
            .limit(param("limit")).offset(param("offset")))
    if status_kind != "unpaid" and include_cancelled and not (contact or crm_organization or start or end
                                                              or portal_user):
        counted = [invoice_counts.c.organization_id == param("organization_id")]
        if status_kind == "overdue":
            counted.append(invoice_counts.c.status == OVERDUE)
        elif status_kind:
            counted.append(invoice_counts.c.status == param("status"))
        if type_:
            counted.append(invoice_counts.c.type == param("type"))
        total = sa.select(sa.func.coalesce(sa.func.sum(invoice_counts.c.count), 0)).where(*counted)
        if status_kind == "overdue":
            # Plus those past due that the overdue job has not stored yet: few, and counted per
            # status, so that each count is one range of the invoices_past_due index.
            late = [sa.select(sa.func.count()).select_from(invoices).where(
                c.organization_id == param("organization_id"), term, *([c.type == param("type")] if type_ else [])
            ).scalar_subquery() for term in past_due]
            total = sa.select(sum(late, total.scalar_subquery()))
    else:
        total = sa.select(sa.func.count()).select_from(invoices).where(*conditions)
    return HotQuery(page), HotQuery(total)


def invoice_view(connection: HotConnection, organization_id: str, invoice_id: str, now: int) -> pb.Invoice | None:
    rows = _VIEW_BY_ID.rows(connection, {"organization_id": organization_id, "invoice_id": invoice_id})
    return as_read_at(pb.Invoice.FromString(rows[0][0]), now) if rows else None


def invoice_page(connection: HotConnection, organization_id: str, where: InvoiceFilter, limit: int, offset: int,
                 now: int) -> pb.ListInvoicesResponse:
    """A page of invoices, newest first, as they read at `now`, and how many match in all."""
    page, count = _list_queries(*where.shape())
    params = {**dataclasses.asdict(where), "organization_id": organization_id, "now": now,
              "visible_contact_id": where.visible_to_contact_id,
              "visible_crm_organization_id": where.visible_to_crm_organization_id,
              "limit": limit, "offset": offset}
    views = (view for view, in page.rows(connection, params))
    response = pb.ListInvoicesResponse.FromString(repeated_message_field(_INVOICES_FIELD, views))
    for invoice in response.invoices:
        as_read_at(invoice, now)
    response.total = int(count.rows(connection, params)[0][0])
    response.limit, response.offset = limit, offset
    return response
