"""Portal sign-in use cases on a real database, with the CRM replaced by a controllable finder."""
import pytest

from auth.adapters.crm_client import ContactLink
from auth.config import MIGRATIONS
from auth.service_layer.accounts import Accounts
from auth.service_layer.credentials import Credentials
from auth.service_layer.portal_users import PortalUsers
from portal_common import db
from portal_common.auth import PORTAL_USER, hash_credential
from portal_common.errors import Conflict, InvalidArgument, Unavailable

DAY_MS = 24 * 3600 * 1000


class Clock:
    def __init__(self):
        self.now = 1_700_000_000_000

    def __call__(self):
        return self.now


class ContactDirectory:
    """What the CRM would answer: contacts by email, or nothing at all when `down`."""

    def __init__(self):
        self.contacts: dict[str, ContactLink] = {}
        self.down = False

    def find_contact(self, email, credential):
        if self.down:
            raise Unavailable("CRM down")
        return self.contacts.get(email.lower())


@pytest.fixture
def world(databases):
    with databases.migrated_engine("auth", MIGRATIONS) as engine:
        database, clock, crm = db.Database(engine), Clock(), ContactDirectory()
        organization_id, key = Accounts(database).create_organization("Acme")
        yield (PortalUsers(database, crm, session_ttl_ms=30 * DAY_MS, clock=clock), Credentials(database, clock),
               crm, clock, organization_id, key)


def test_first_sync_creates_then_updates_the_same_user(world):
    users, credentials, crm, clock, org, key = world
    first = users.sync_user(org, key, "Jo@Example.com", "Jo", "google", "g-1")
    clock.now += 1000
    second = users.sync_user(org, key, " jo@example.com ", "Jo Doe", "google", "g-1")
    assert first.created and not second.created
    assert second.user.id == first.user.id
    assert (second.user.display_name, second.user.last_login) == ("Jo Doe", clock.now)
    assert first.session_token != second.session_token


def test_the_same_provider_account_is_the_same_user_even_with_a_new_email(world):
    users, *_, org, key = world
    first = users.sync_user(org, key, "old@example.com", "", "microsoft", "m-1")
    moved = users.sync_user(org, key, "new@example.com", "", "microsoft", "m-1")
    assert moved.user.id == first.user.id and moved.user.email == "new@example.com"


def test_another_account_of_a_bound_provider_is_refused_but_another_provider_is_added(world):
    users, *_, org, key = world
    first = users.sync_user(org, key, "jo@example.com", "", "google", "g-1")
    with pytest.raises(Conflict):
        users.sync_user(org, key, "jo@example.com", "", "google", "g-2")
    other_provider = users.sync_user(org, key, "jo@example.com", "", "microsoft", "m-9")
    assert other_provider.user.id == first.user.id and not other_provider.created
    users.sync_user(org, key, "ann@example.com", "", "google", "g-3")
    with pytest.raises(Conflict):  # g-1 signs in with an email that is Ann's
        users.sync_user(org, key, "ann@example.com", "", "google", "g-1")


def test_invalid_sign_ins_name_the_field(world):
    users, *_, org, key = world
    with pytest.raises(InvalidArgument) as raised:
        users.sync_user(org, key, "jo@example.com", "", "github", "1")
    assert raised.value.field == "oauthProvider"


def test_the_crm_link_follows_the_crm_and_survives_its_outages(world):
    users, credentials, crm, clock, org, key = world
    assert users.sync_user(org, key, "jo@example.com", "", "google", "g-1").user.crm_contact_id is None
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_1")
    linked = users.sync_user(org, key, "jo@example.com", "", "google", "g-1")
    assert (linked.user.crm_contact_id, linked.user.crm_organization_id) == ("ct_1", "co_1")
    crm.down = True
    during_outage = users.sync_user(org, key, "jo@example.com", "", "google", "g-1")
    assert during_outage.user.crm_contact_id == "ct_1"  # kept, not dropped
    principal = credentials.resolve(hash_credential(during_outage.session_token))
    assert (principal.kind, principal.crm_contact_id, principal.crm_organization_id) == (PORTAL_USER, "ct_1", "co_1")


def test_sessions_expire_and_end_at_logout(world):
    users, credentials, crm, clock, org, key = world
    sign_in = users.sync_user(org, key, "jo@example.com", "", "google", "g-1")
    credential = hash_credential(sign_in.session_token)
    principal = credentials.resolve(credential)
    assert principal.organization_id == org and principal.expires_at == clock.now + 30 * DAY_MS
    clock.now += 30 * DAY_MS - 1
    assert credentials.resolve(credential) is not None
    clock.now += 1
    assert credentials.resolve(credential) is None
    other = users.sync_user(org, key, "jo@example.com", "", "google", "g-1")
    users.logout(credentials.resolve(hash_credential(other.session_token)))
    assert credentials.resolve(hash_credential(other.session_token)) is None
