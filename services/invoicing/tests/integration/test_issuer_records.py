"""The issuer and billed party as stored in an invoice's record (adapters/repository.py): every
field the profile added reads back, and records written before those fields existed still read."""

import dataclasses

import sqlalchemy as sa
from invoice_factory import an_invoice, lines_of

from invoicing.adapters.tables import invoices
from invoicing.adapters.unit_of_work import SqlInvoicingUnitOfWork
from invoicing.api import mapping
from invoicing.domain.model import Address, BillTo, Issuer
from invoicing.server import new_outbox
from portal_common import db

ADDRESS = Address(street="Hauptstraße 5", city="Berlin", state="BE", postal_code="10115", country="DE")
INVOICE = an_invoice(
    lines_of(2, "Work"),
    organization_id="org_a",
    issuer=Issuer(
        name="Acme",
        legal_name="Acme GmbH",
        email="billing@acme.example",
        phone="+49 30 1",
        website="https://acme.example",
        tax_id="DE123",
        address=ADDRESS,
    ),
    bill_to=BillTo(
        name="Łódź Works",
        crm_organization_id="co_1",
        contact_id="ct_1",
        email="ap@lodz.example",
        address=ADDRESS,
        tax_id="PL526",
        contact_name="Zoë Müller",
    ),
)


def stored(engine):
    with SqlInvoicingUnitOfWork(db.Database(engine), new_outbox(), mapping.invoice_view, True) as uow:
        return uow.invoices.get("org_a", INVOICE.id)


def test_the_issuer_and_the_billed_partys_tax_id_and_contact_read_back(engine):
    with SqlInvoicingUnitOfWork(db.Database(engine), new_outbox(), mapping.invoice_view) as uow:
        uow.invoices.add(INVOICE)
        uow.commit()
    assert stored(engine) == INVOICE
    view = mapping.invoice_message(INVOICE).custom_properties
    assert (view.issuer.legal_name, view.issuer.phone, view.issuer.website) == (
        "Acme GmbH",
        "+49 30 1",
        INVOICE.issuer.website,
    )
    assert (view.bill_to.tax_id, view.bill_to.contact_name) == ("PL526", "Zoë Müller")


def test_a_record_written_before_the_profile_fields_reads_them_as_absent(engine):
    with SqlInvoicingUnitOfWork(db.Database(engine), new_outbox(), mapping.invoice_view) as uow:
        uow.invoices.add(INVOICE)
        uow.commit()
    with engine.begin() as connection:
        record = connection.execute(sa.select(invoices.c.record)).scalar_one()
        for key in ("legal_name", "phone", "website"):
            del record["issuer"][key]
        for key in ("tax_id", "contact_name"):
            del record["bill_to"][key]
        connection.execute(invoices.update().values(record=record))
    assert stored(engine) == dataclasses.replace(
        INVOICE,
        issuer=dataclasses.replace(INVOICE.issuer, legal_name=None, phone=None, website=None),
        bill_to=dataclasses.replace(INVOICE.bill_to, tax_id=None, contact_name=None),
    )
