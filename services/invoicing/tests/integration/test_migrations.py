"""Stored invoices survive the migrations (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE).

data/invoices_at_0003.json holds real rows written by the service as it was at revision 0003
(money as int32 in the stored message): the use cases of that revision created, sent, paid and
cancelled four invoices (USD with fractional lines, customFields and an issuer; a consolidated EUR
one; JPY totalling 2,147,483,647, int32's largest; a KWD draft) on a database at 0003, and the
file keeps every column of those rows plus each message as that code read it (`as_read_then`).
"""

import base64
import importlib.util
import io
import json
import pathlib

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from google.protobuf import descriptor_pb2, json_format
from pypdf import PdfReader

from invoicing.adapters.repository import InvoiceRepository
from invoicing.adapters.tables import invoice_counters, invoice_counts, invoices
from invoicing.api.mapping import invoice_message, invoice_view
from invoicing.config import MIGRATIONS
from invoicing.domain.commands import InvoiceFields
from invoicing.queries import InvoiceFilter
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal_common import db
from portal_common.auth import API_KEY, Principal

STORED = json.loads((pathlib.Path(__file__).parent / "data" / "invoices_at_0003.json").read_text())
KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")


def migrate_to(engine: sa.Engine, revision: str, downgrade: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)


@pytest.fixture
def engine_at_0003(databases):
    engine = db.create_engine(databases.new_url("invoicing"))
    migrate_to(engine, "0003")
    with engine.begin() as connection:
        for table in (invoices, invoice_counts, invoice_counters):
            rows = [dict(row) for row in STORED["rows"][table.name]]
            for row in rows:
                if "view" in row:
                    row["view"] = base64.b64decode(row["view"])
            connection.execute(table.insert(), rows)
    yield engine
    engine.dispose()


def stored_views(engine) -> dict[str, bytes]:
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(invoices.c.id, invoices.c.view)).all())


def test_every_stored_invoice_reads_back_the_same_after_0004(engine_at_0003, open_invoicing):
    migrate_to(engine_at_0003, "head")
    views = stored_views(engine_at_0003)
    assert set(views) == set(STORED["as_read_then"])
    for invoice_id, view in views.items():
        now = json_format.MessageToDict(pb.Invoice.FromString(view))
        # Field by field: strings, dates, lines, billTo, customFields; amounts are now doubles
        # holding the same whole numbers (100000.0 == 100000).
        assert now == STORED["as_read_then"][invoice_id], invoice_id
        assert isinstance(now["customProperties"]["totalAmountInCents"], float)

    invoicing = open_invoicing(engine_at_0003)
    jpy = next(i for i, v in STORED["as_read_then"].items() if v["customProperties"]["currency"] == "JPY")
    assert invoicing.get_invoice(KEY, jpy).custom_properties.total_amount_in_cents == 2_147_483_647
    text = PdfReader(io.BytesIO(invoicing.invoice_pdf(KEY, jpy).data)).pages[0].extract_text()
    assert "JPY 2,147,483,647" in text and "2,000,000,000" in text
    # The stored draft goes on through the use cases: changed, sent, its counts kept.
    draft = next(i for i, v in STORED["as_read_then"].items() if v["status"] == "draft")
    changed = invoicing.update_invoice(KEY, draft, InvoiceFields(notes="after the migration"), "org_a")
    assert (changed.currency, changed.totals.total_cents, changed.notes) == ("KWD", 38887, "after the migration")
    assert invoicing.send_invoice(KEY, draft, None, None).status == "sent"
    assert invoicing.list_invoices(KEY, InvoiceFilter(), 50, 0).total == 4


def test_0005_stores_each_invoice_as_its_record_without_loss(engine_at_0003):
    """From 0004 the record is columns and a document: read back, each gives the very message that
    was stored at 0004, and the view stays as it was."""
    migrate_to(engine_at_0003, "0004")
    views_at_0004 = stored_views(engine_at_0003)
    migrate_to(engine_at_0003, "head")
    assert stored_views(engine_at_0003) == views_at_0004
    with engine_at_0003.connect() as connection:
        organizations = dict(connection.execute(sa.select(invoices.c.id, invoices.c.organization_id)).all())
        repository = InvoiceRepository(connection, invoice_view)
        for invoice_id, view in views_at_0004.items():
            record = repository.get(organizations[invoice_id], invoice_id)
            assert invoice_message(record) == pb.Invoice.FromString(view), invoice_id


def test_downgrading_0004_gives_back_the_int32_rows(engine_at_0003):
    migrate_to(engine_at_0003, "head")
    migrate_to(engine_at_0003, "0003", downgrade=True)
    spec = importlib.util.spec_from_file_location("m0004", MIGRATIONS / "versions" / "0004_money_as_doubles.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    invoice_0003 = migration._invoice_class(descriptor_pb2.FieldDescriptorProto.TYPE_INT32)
    for invoice_id, view in stored_views(engine_at_0003).items():
        as_read_then = dict(STORED["as_read_then"][invoice_id])
        as_read_then["id"] = as_read_then.pop("_id")  # the frozen schema keeps no json_name
        assert json_format.MessageToDict(invoice_0003.FromString(view)) == as_read_then
