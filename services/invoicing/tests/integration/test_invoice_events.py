"""Invoice events on a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE=postgres): each
is a row of the outbox written in the transaction of its change, holding the invoice as the API
answers for it; a refused change leaves none."""

import json

import pytest
import sqlalchemy as sa

from invoicing.adapters.tables import outbox_events
from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import Conflict
from portal_common.event_json import message_object

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")


def events(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(outbox_events).order_by(outbox_events.c.id)).all()
    for row in rows:
        assert (row.type, row.created_at) == (json.loads(row.payload)["type"], json.loads(row.payload)["createdAt"])
        assert row.organization_id == "org_a"
    return [json.loads(row.payload) for row in rows]


def test_each_change_is_an_event_in_its_transaction_with_the_invoice_as_get_answers(invoicing, engine):
    fields = InvoiceFields(
        type="b2c_single",
        currency="EUR",
        bill_to=BillToFields(contact_id="ct_solo_org_a"),
        line_items=[LineFields("Consulting", 1.5, 1000)],
    )
    invoice = invoicing.create_invoice(KEY, fields, "org_a")
    invoicing.send_invoice(KEY, invoice.id, None, None)
    with pytest.raises(Conflict):  # refused: its transaction, and any event in it, rolled back
        invoicing.send_invoice(KEY, invoice.id, None, None)
    created, sent = events(engine)
    assert [created["type"], sent["type"]] == ["invoice.created", "invoice.sent"]
    assert created["id"] < sent["id"] and sent["id"].startswith("evt_")
    answered = message_object(invoicing.get_invoice(KEY, invoice.id))  # GET: from the stored read model
    assert sent["data"]["object"]["customProperties"]["totalAmountInCents"] == 1500  # an integer, as the gateway prints
    assert sent["data"]["object"] == answered
