"""The outbox on a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE=postgres):
emails queued with the send, claimed by one worker at a time, and their outcomes saved."""

import threading

import pytest

from invoicing.adapters.unit_of_work import SqlInvoicingUnitOfWork
from invoicing.api import mapping
from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.server import new_outbox
from portal_common import db
from portal_common.auth import API_KEY, Principal
from portal_common.clock import now_ms

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")
OTHER_KEY = Principal(kind=API_KEY, organization_id="org_b", credential_id="key_b")
HOLD = 600_000


@pytest.fixture
def uow(engine):
    database = db.Database(engine)
    return lambda read_only=False: SqlInvoicingUnitOfWork(database, new_outbox(), mapping.invoice_view, read_only)


def sent(invoicing, principal=KEY, count: int = 1) -> list[str]:
    ids = []
    for _ in range(count):
        invoice = invoicing.create_invoice(
            principal,
            InvoiceFields(
                type="b2c_single",
                currency="EUR",
                bill_to=BillToFields(contact_id=f"ct_solo_{principal.organization_id}"),
                line_items=[LineFields("Consulting", 1, 100)],
            ),
            principal.organization_id,
        )
        invoicing.send_invoice(principal, invoice.id, None, None)
        ids.append(invoice.id)
    return ids


def claim(uow, worker: str, batch: int, now: int | None = None):
    with uow() as unit:
        now = now_ms() if now is None else now
        claimed = unit.emails.claim(worker, now, now + HOLD, batch)
        unit.commit()
    return claimed


def test_emails_are_listed_newest_first_for_their_own_organization_only(invoicing, uow):
    [invoice_id] = sent(invoicing)
    reminder = invoicing.emails.remind(KEY, invoice_id, "boss@example.com")
    listed = invoicing.emails.emails(KEY, invoice_id)
    assert [e.id for e in listed] == [reminder.id, listed[1].id] and listed[1].to == "solo@example.com"
    with uow(read_only=True) as unit:
        assert unit.emails.of_invoice("org_b", invoice_id) == []


def test_a_claim_holds_the_email_until_its_outcome_is_saved(invoicing, uow):
    sent(invoicing)
    [email] = claim(uow, "w1", 10)
    assert claim(uow, "w2", 10) == []  # held
    with uow(read_only=True) as unit:
        assert unit.emails.next_due() == email.next_attempt_at  # when the hold expires
    email.delivered(now_ms())
    with uow() as unit:
        assert not unit.emails.save(email, "w2")  # not its to save
        assert unit.emails.save(email, "w1")
        unit.commit()
    with uow() as unit:
        assert not unit.emails.save(email, "w1")  # saved once: no longer held
        assert unit.emails.next_due() is None
    [stored] = invoicing.emails.emails(KEY, email.invoice_id)
    assert (stored.status, stored.attempts, stored.sent_at) == ("sent", 1, email.sent_at)


def test_an_expired_hold_is_taken_by_another_worker_and_a_restarted_worker_takes_its_own_back(invoicing, uow):
    sent(invoicing, count=2)
    now = now_ms()
    assert len(claim(uow, "w1", 10, now)) == 2
    assert claim(uow, "w2", 10, now + HOLD - 1) == []
    [first] = claim(uow, "w2", 1, now + HOLD)  # w1's hold expired
    with uow() as unit:
        assert unit.emails.release("w1", now) == 1  # w1 restarted: it still held the other one
        unit.commit()
    assert [e.id for e in claim(uow, "w3", 10, now)] != [first.id]


def test_two_workers_never_claim_the_same_email(invoicing, uow):
    queued = {e.id for invoice_id in sent(invoicing, count=40) for e in invoicing.emails.emails(KEY, invoice_id)}
    taken: dict[str, list[str]] = {"w1": [], "w2": [], "w3": []}
    start = threading.Barrier(len(taken))

    def work(worker: str) -> None:
        start.wait()
        while claimed := claim(uow, worker, 3):
            taken[worker].extend(e.id for e in claimed)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [email_id for ids in taken.values() for email_id in ids]
    assert sorted(every) == sorted(queued)  # each claimed exactly once
