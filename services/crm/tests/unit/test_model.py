import pytest

from crm.domain.model import (
    Contact,
    CrmOrganization,
    EventRegistration,
    clean_tags,
    email_key,
    merge_tags,
    website_key,
)
from portal_common.db import like_pattern
from portal_common.domain_errors import InvalidArgument
from portal_common.validation import check_choice, clean_email


def test_email_is_trimmed_and_its_key_case_insensitive():
    assert clean_email("  John.Doe@Example.com ", "email") == "John.Doe@Example.com"
    assert email_key(" John.Doe@Example.COM") == "john.doe@example.com"


@pytest.mark.parametrize("bad", ["", "john", "john@", "@example.com", "a b@example.com", "john@example", "x@y."])
def test_invalid_emails_are_refused_naming_the_field(bad):
    with pytest.raises(InvalidArgument) as raised:
        clean_email(bad, "attendeeInfo.email")
    assert raised.value.field == "attendeeInfo.email"


def test_choices_name_the_allowed_values():
    assert check_choice("lead", ("lead", "customer"), "subtype") == "lead"
    with pytest.raises(InvalidArgument, match="subtype must be one of lead, customer"):
        check_choice("Lead", ("lead", "customer"), "subtype")


def test_tags_are_trimmed_deduplicated_and_merged_in_order():
    assert clean_tags([" vip ", "vip", "", "speaker"]) == ["vip", "speaker"]
    assert merge_tags(["a", "b"], ["b", "c"]) == ["a", "b", "c"]
    with pytest.raises(InvalidArgument):
        clean_tags(["ok", 3])


def test_like_pattern_escapes_wildcards():
    assert like_pattern(" 100%_Sure ") == "%100\\%\\_sure%"


def test_websites_compare_without_scheme_www_or_trailing_slash():
    assert website_key("https://www.Acme.com/") == website_key("acme.com") == "acme.com"
    assert website_key("") is None


def test_contact_name_falls_back_to_email_and_search_text_covers_company():
    contact = Contact(id="ct_1", organization_id="org_1", email="Jo@Example.com", company="Acme")
    assert contact.name == "Jo@Example.com"
    contact.first_name, contact.last_name = "Jo", "Doe"
    assert contact.name == "Jo Doe"
    assert contact.search_text == "jo doe jo@example.com acme"


def test_registering_twice_for_an_event_keeps_one_registration():
    contact = Contact(id="ct_1", organization_id="org_1", email="a@b.co")
    contact.register_for_event(EventRegistration("ev1", "Conf", 1, 2))
    contact.register_for_event(EventRegistration("ev2", "Meetup", 1, 3))
    contact.register_for_event(EventRegistration("ev1", "Conf (renamed)", 1, 4))
    assert [(e.event_id, e.event_name) for e in contact.events] == [("ev2", "Meetup"), ("ev1", "Conf (renamed)")]


def test_organization_fill_in_never_overwrites():
    organization = CrmOrganization(id="co_1", organization_id="org_1", name="Acme", industry="Tech")
    changed = organization.fill_in({"industry": "Retail", "city": "Paris", "website": None})
    assert changed
    assert (organization.industry, organization.city, organization.website) == ("Tech", "Paris", None)
    assert not organization.fill_in({"industry": "Retail"})
