"""The Python SDK's quickstart (README.md, docs/frontend.md): contacts, a project, an invoice and
its PDF with the organization's API key, then a portal user's sign-in and its session.

    PORTAL_API_URL=http://127.0.0.1:8080 PORTAL_API_KEY=pk_... python clients/python/examples/quickstart.py

It prints what it made as one JSON object (the SDK tests read it).
"""

import json
import os
import uuid

from portal_client import PortalApiError, connect, ok, paginate
from portal_client.generated.api.crm_service import list_contacts, upsert_contact
from portal_client.generated.api.invoicing_service import create_invoice, get_invoice_pdf
from portal_client.generated.api.portal_auth_service import get_current_user, sync_user
from portal_client.generated.api.projects_service import create_project
from portal_client.generated.models import (
    BillToInput,
    ContactInput,
    InvoiceInput,
    LineItemInput,
    ProjectInput,
    SyncUserInput,
)

base_url = os.environ.get("PORTAL_API_URL", "http://127.0.0.1:8080")
portal = connect(base_url, api_key=os.environ["PORTAL_API_KEY"])  # server side only: the key is the organization's
email = f"jane.{uuid.uuid4().hex[:8]}@example.com"

# Contacts: create one (201; the same email again updates it), then list them all, page after page.
created = ok(upsert_contact.sync(client=portal, body=ContactInput(first_name="Jane", last_name="Roe", email=email)))
contacts = list(paginate(list_contacts.sync, lambda page: page.contacts, client=portal, page_size=50))

# A project (a draft, with its code PRJ-<year>-001...).
project = ok(create_project.sync(client=portal, body=ProjectInput(name="Website Redesign", subtype="client_project")))

# An invoice billed to the contact (amounts in minor units: 10 × $100.00 plus 7% tax), and its PDF.
invoice = ok(
    create_invoice.sync(
        client=portal,
        body=InvoiceInput(
            type_="b2c_single",
            currency="USD",
            line_items=[
                LineItemInput(description="Development", quantity=10, unit_price_in_cents=10000, tax_rate_percent=7)
            ],
            bill_to=BillToInput(contact_id=created.contact_id),
        ),
    )
)
pdf: bytes = get_invoice_pdf.sync_detailed(client=portal, invoice_id=invoice.field_id).content

# A portal user signs in (the frontend's server calls this after the OAuth login, with the API key)...
signed_in = ok(
    sync_user.sync(
        client=portal,
        body=SyncUserInput(email=email, name="Jane Roe", oauth_provider="google", oauth_id=f"g-{uuid.uuid4().hex}"),
    )
)
# ...and calls the API with the session token from then on.
session = connect(base_url, session_token=signed_in.session_token)
me = ok(get_current_user.sync(client=session))

# Every error answer is a PortalApiError carrying the status and the body's {error, code, field}.
try:
    upsert_contact.sync(client=portal, body=ContactInput(email="not-an-email"))
except PortalApiError as error:
    refused = {"status": error.status, "code": error.code, "field": error.field}

print(
    json.dumps(
        {
            "email": email,
            "contactId": created.contact_id,
            "listed": [contact.id for contact in contacts],
            "projectId": project.field_id,
            "invoiceId": invoice.field_id,
            "totalAmountInCents": invoice.custom_properties.total_amount_in_cents
            if invoice.custom_properties
            else None,
            "pdfStart": pdf[:5].decode("latin-1"),
            "sessionToken": signed_in.session_token,
            "me": {"id": me.field_id, "email": me.email},
            "refused": refused,
        }
    )
)
