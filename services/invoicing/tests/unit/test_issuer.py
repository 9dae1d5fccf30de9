"""Who issues an invoice: the organization's profile under the fields the invoice gives itself,
fixed when the invoice is sent."""

from invoice_factory import an_invoice

from invoicing.domain.model import DRAFT, Address, Issuer

PROFILE = Issuer(
    name="Acme",
    legal_name="Acme GmbH",
    email="billing@acme.example",
    phone="+49 30 1",
    website="https://acme.example",
    tax_id="DE123",
    address=Address(street="Hauptstraße 5", city="Berlin", country="DE"),
)


def test_the_invoices_own_fields_win_and_its_address_comes_whole():
    own = Issuer(name="Acme Projects", tax_id="ATU9", address=Address(city="Wien"))
    assert own.over(PROFILE) == Issuer(
        name="Acme Projects",
        legal_name="Acme GmbH",
        email="billing@acme.example",
        phone="+49 30 1",
        website="https://acme.example",
        tax_id="ATU9",
        address=Address(city="Wien"),
    )
    assert Issuer(name="Acme Projects").over(PROFILE).address == PROFILE.address


def test_a_draft_follows_the_profile_and_a_sent_invoice_keeps_its_snapshot():
    draft = an_invoice(status=DRAFT)
    assert draft.issuer_with(PROFILE) == PROFILE
    draft.issuer = Issuer(name="Own name")
    assert draft.issuer_with(PROFILE) == Issuer(name="Own name").over(PROFILE)
    draft.send(sent_date=1, sent_to="zoe@example.com", now=1)
    draft.snapshot_issuer(PROFILE)
    edited = Issuer(name="Edited", tax_id="DE999")
    assert draft.issuer_with(edited) == draft.issuer == Issuer(name="Own name").over(PROFILE)


def test_an_invoice_sent_before_profiles_keeps_what_it_was_sent_with():
    assert an_invoice(sent_date=5, issuer=None).issuer_with(PROFILE) is None
