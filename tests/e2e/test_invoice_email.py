"""Invoice emails end to end (docs/email.md): REST through the real gateway, the invoicing service's
worker, and a real SMTP server (aiosmtpd) that receives the messages, parsed back here.

These tests run their own stack, with PORTAL_SMTP_URL naming the module's SMTP server and the retry
schedule a thousand times shorter (PORTAL_RETRY_SCALE=0.001); the .eml fallback is checked on the
session's stack, which has no PORTAL_SMTP_URL.
"""

import email
import email.policy
import io
import signal
import time
import uuid

import pytest
from crm_rest import api_for, assert_error
from invoicing_rest import FAR_FUTURE, INVOICES, create_invoice, customer, invoice_body, transition
from pypdf import PdfReader
from smtp_server import SmtpServer

from portal_stack.testing import new_organization, start_stack

ORGANIZATION = "Łódź & Sons <Ltd>"


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_stack(databases, tmp_path_factory, smtp):
    running = start_stack(
        databases, tmp_path_factory.mktemp("mail-stack"), PORTAL_SMTP_URL=smtp.url, PORTAL_RETRY_SCALE="0.001"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(mail_stack):
    """An organization with a profile: its name and email are the sender's name and Reply-To."""
    api = api_for(mail_stack, new_organization(mail_stack, ORGANIZATION))
    response = api.patch("/api/v1/organization", json={"email": "accounts@lodz-sons.example"})
    assert response.status_code == 200, response.text
    return api


def emails(api, invoice_id: str) -> list[dict]:
    response = api.get(f"{INVOICES}/{invoice_id}/emails")
    assert response.status_code == 200, response.text
    return response.json()["emails"]


def settled(api, invoice_id: str, email_id: str, timeout: float = 60) -> dict:
    """The email once it is no longer queued."""
    deadline = time.monotonic() + timeout
    while True:
        found = next(e for e in emails(api, invoice_id) if e["id"] == email_id)
        if found["status"] != "queued":
            return found
        assert time.monotonic() < deadline, f"still queued after {timeout} s: {found}"
        time.sleep(0.05)


def until(check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.05)
    return result


def sent_invoice(api, recipient: str | None = None, **overrides) -> tuple[dict, dict]:
    """An invoice sent to `recipient` (a new address by default); (the invoice, its queued email)."""
    recipient = recipient or f"client.{uuid.uuid4().hex[:8]}@example.com"
    contact_id, _ = customer(api, email=recipient)
    body = invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None, **overrides)
    body["billTo"] = {"contactId": contact_id}  # billed to the contact's own address
    invoice = create_invoice(api, body)
    response = transition(api, invoice["_id"], "send")
    assert response.status_code == 200, response.text
    [queued] = emails(api, invoice["_id"])
    return response.json(), queued


def parts(message: email.message.EmailMessage) -> dict[str, email.message.EmailMessage]:
    return {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}


def test_a_sent_invoice_arrives_with_both_parts_and_its_pdf(api, smtp):
    notes = "Pay <b>by</b> the 30th & quote the number"
    invoice, queued = sent_invoice(api, notes=notes)
    number = invoice["name"]
    assert queued["status"] in ("queued", "sent") and queued["to"] == invoice["customProperties"]["sentTo"]
    assert queued["subject"] == f"Invoice {number} from {ORGANIZATION}"
    message = smtp.wait_for(queued["messageId"])

    assert message["Subject"] == f"Invoice {number} from {ORGANIZATION}"
    assert message["From"].addresses[0].display_name == ORGANIZATION
    assert message["From"].addresses[0].addr_spec == "invoices@localhost"
    assert message["Reply-To"] == "accounts@lodz-sons.example"
    assert message["To"] == queued["to"] and message["Date"] is not None
    assert message.get_content_type() == "multipart/mixed"
    assert [part.get_content_type() for part in message.iter_parts()] == ["multipart/alternative", "application/pdf"]
    found = parts(message)
    text, html = found["text/plain"].get_content(), found["text/html"].get_content()
    for body in (text, html):
        assert number in body and "USD 1,070.00" in body and "2100-01-31" in body
    assert notes in text
    assert "Pay &lt;b&gt;by&lt;/b&gt; the 30th &amp; quote the number" in html and "<b>by</b>" not in html
    assert "Łódź &amp; Sons &lt;Ltd&gt;" in html
    pdf = found["application/pdf"]
    assert pdf.get_filename() == f"{number}.pdf" and pdf.get_content_disposition() == "attachment"
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_content())).pages]
    assert number in pages[0] and ORGANIZATION in pages[0]

    delivered = settled(api, invoice["_id"], queued["id"])
    assert delivered["status"] == "sent" and delivered["attempts"] == 1 and "lastError" not in delivered
    assert delivered["sentAt"] >= delivered["createdAt"] and delivered["messageId"] == queued["messageId"]


def test_a_refused_send_queues_nothing_and_email_false_sends_without_one(api):
    created = api.post(
        "/api/v1/crm/contacts",
        json={"email": f"staff.{uuid.uuid4().hex[:8]}@example.com", "organizationInfo": {"name": "No Billing Ltd"}},
    )
    assert created.status_code in (200, 201), created.text
    # Billed to a CRM organization without a billing email, and to no contact: no address at all.
    body = invoice_body("unused", issueDate=FAR_FUTURE, dueDate=None, type="b2b_single")
    body["billTo"] = {"crmOrganizationId": created.json()["crmOrganizationId"]}
    invoice = create_invoice(api, body)
    assert "email" not in invoice["customProperties"]["billTo"]
    refused = transition(api, invoice["_id"], "send", {})
    assert assert_error(refused, 400)["field"] == "sentTo"
    assert emails(api, invoice["_id"]) == []
    sent = transition(api, invoice["_id"], "send", {"email": False})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent" and emails(api, invoice["_id"]) == []
    # A second send is refused (409): nothing is queued by it either.
    assert_error(transition(api, invoice["_id"], "send", {"sentTo": "x@example.com"}), 409)
    assert emails(api, invoice["_id"]) == []
    assert assert_error(transition(api, invoice["_id"], "send", {"email": "yes"}), 400)["field"] == "email"


def test_a_recipient_refused_for_good_fails_at_once_with_the_reply(api, smtp):
    recipient = f"nobody.{uuid.uuid4().hex[:8]}@example.com"
    smtp.mailbox.refuse[recipient] = "550 5.1.1 <nobody>: Recipient address rejected"
    invoice, queued = sent_invoice(api, recipient)
    failed = settled(api, invoice["_id"], queued["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1 and failed["to"] == recipient
    assert failed["lastError"] == "550 5.1.1 <nobody>: Recipient address rejected"
    assert "sentAt" not in failed and smtp.mailbox.with_id(queued["messageId"]) == []


def test_a_recipient_deferred_with_421_is_retried_and_delivered(api, smtp):
    recipient = f"busy.{uuid.uuid4().hex[:8]}@example.com"
    smtp.mailbox.defer[recipient] = 2
    invoice, queued = sent_invoice(api, recipient)
    smtp.wait_for(queued["messageId"])
    delivered = settled(api, invoice["_id"], queued["id"])
    assert (delivered["status"], delivered["attempts"]) == ("sent", 3)
    assert delivered["lastError"] == "421 4.7.0 Try again later"


def test_emails_queued_while_the_server_is_down_go_once_it_is_back(api, smtp):
    smtp.stop()
    try:
        invoice, queued = sent_invoice(api)
        retried = until(lambda: next((e for e in emails(api, invoice["_id"]) if e["attempts"] >= 2), None))
        assert retried["status"] == "queued" and "cannot reach the SMTP server" in retried["lastError"]
    finally:
        smtp.start()
    smtp.wait_for(queued["messageId"])
    assert settled(api, invoice["_id"], queued["id"])["status"] == "sent"


def test_an_email_queued_before_a_sigkill_is_sent_after_the_restart(api, smtp, mail_stack):
    smtp.stop()
    try:
        invoice, queued = sent_invoice(api)
        until(lambda: emails(api, invoice["_id"])[0]["attempts"] >= 1)
        process = mail_stack.processes["invoicing"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        smtp.start()
    mail_stack.restart("invoicing")  # as the supervisor does
    smtp.wait_for(queued["messageId"])
    assert settled(api, invoice["_id"], queued["id"])["status"] == "sent"


def test_a_reminder_goes_for_an_open_invoice_only(api, smtp):
    invoice, first = sent_invoice(api)
    smtp.wait_for(first["messageId"])
    response = api.post(f"{INVOICES}/{invoice['_id']}/emails", json={})
    assert response.status_code == 202, response.text
    reminder = response.json()
    assert reminder["status"] == "queued" and reminder["to"] == first["to"] and reminder["attempts"] == 0
    assert reminder["subject"] == f"Reminder: Invoice {invoice['name']} from {ORGANIZATION}"
    assert reminder["messageId"] != first["messageId"]
    message = smtp.wait_for(reminder["messageId"])
    assert "reminder" in parts(message)["text/plain"].get_content()
    once = {"Idempotency-Key": uuid.uuid4().hex}
    elsewhere = api.post(f"{INVOICES}/{invoice['_id']}/emails", json={"to": "accounts@client.example"}, headers=once)
    assert elsewhere.status_code == 202 and elsewhere.json()["to"] == "accounts@client.example"
    # A network retry with the same key answers the same email again and queues no other.
    again = api.post(f"{INVOICES}/{invoice['_id']}/emails", json={"to": "accounts@client.example"}, headers=once)
    assert again.status_code == 202 and again.json() == elsewhere.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    listed = emails(api, invoice["_id"])
    assert [e["id"] for e in listed] == [elsewhere.json()["id"], reminder["id"], first["id"]]  # newest first

    assert assert_error(api.post(f"{INVOICES}/{invoice['_id']}/emails", json={"to": "nope"}), 400)["field"] == "to"
    assert assert_error(api.post(f"{INVOICES}/{invoice['_id']}/emails", json={"cc": "x@y.z"}), 400)["field"] == "cc"
    assert transition(api, invoice["_id"], "pay").status_code == 200
    assert_error(api.post(f"{INVOICES}/{invoice['_id']}/emails", json={}), 409)
    contact_id, _ = customer(api)
    draft = create_invoice(api, invoice_body(contact_id))
    assert_error(api.post(f"{INVOICES}/{draft['_id']}/emails", json={}), 409)
    assert_error(api.post(f"{INVOICES}/inv_missing/emails", json={}), 404)
    assert_error(api.get(f"{INVOICES}/inv_missing/emails"), 404)


def test_another_organization_and_portal_users_see_no_emails(api, mail_stack):
    invoice, _ = sent_invoice(api)
    other = api_for(mail_stack, new_organization(mail_stack, "Other Org"))
    assert_error(other.get(f"{INVOICES}/{invoice['_id']}/emails"), 404)
    assert_error(other.post(f"{INVOICES}/{invoice['_id']}/emails", json={}), 404)
    customer_email = invoice["customProperties"]["sentTo"]
    signed_in = api.post(
        "/api/v1/auth/sync-user",
        json={"email": customer_email, "name": "Client", "oauthProvider": "google", "oauthId": f"g-{customer_email}"},
    )
    assert signed_in.status_code == 201, signed_in.text
    portal = type(api)(api.base, signed_in.json()["sessionToken"])
    assert portal.get(f"{INVOICES}/{invoice['_id']}").status_code == 200  # the invoice is theirs to read
    assert_error(portal.get(f"{INVOICES}/{invoice['_id']}/emails"), 403)
    assert_error(portal.post(f"{INVOICES}/{invoice['_id']}/emails", json={}), 403)


def test_without_an_smtp_url_each_message_is_written_as_an_eml_file(org_api, stack):
    invoice, queued = sent_invoice(org_api)
    path = stack.config.data_dir / "mail" / f"{queued['id']}.eml"
    until(lambda: path.exists())
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Message-ID"] == queued["messageId"] and message["Subject"] == queued["subject"]
    assert parts(message)["application/pdf"].get_filename() == f"{invoice['name']}.pdf"
    assert settled(org_api, invoice["_id"], queued["id"])["status"] == "sent"
    assert not list(path.parent.glob(".*"))  # no partial file left behind
