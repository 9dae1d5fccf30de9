"""Portal sign-in use cases on a real database, with the CRM replaced by a controllable finder."""

import functools

import pytest

from auth.adapters.repositories import SqlAuthUnitOfWork
from auth.config import MIGRATIONS
from auth.domain.portal_users import ContactAccess, ContactLink, OAuthLogin, PortalUserChanges
from auth.server import new_outbox
from auth.service_layer.accounts import Accounts
from auth.service_layer.credentials import Credentials
from auth.service_layer.portal_users import PortalUsers
from portal_common import db
from portal_common.auth import PORTAL_USER, hash_credential
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unavailable

DAY_MS = 24 * 3600 * 1000


class Clock:
    def __init__(self):
        self.now = 1_700_000_000_000

    def __call__(self):
        return self.now


class ContactDirectory:
    """What the CRM would answer: contacts by email, their grants, or nothing at all when `down`."""

    def __init__(self):
        self.contacts: dict[str, ContactLink] = {}
        self.granted: set[str] = set()  # contact ids with access to their CRM organization's records
        self.down = False

    def find_contact(self, email, credential):
        if self.down:
            raise Unavailable("CRM down")
        return self.contacts.get(email.lower())

    def contact_access(self, organization_id, contact_id):
        if self.down:
            raise Unavailable("CRM down")
        link = next((link for link in self.contacts.values() if link.contact_id == contact_id), None)
        if link is None:
            return None
        return ContactAccess(link.active, link.crm_organization_id or "", contact_id in self.granted)


@pytest.fixture
def world(databases):
    with databases.migrated_engine("auth", MIGRATIONS) as engine:
        uow, clock, crm = (
            functools.partial(SqlAuthUnitOfWork, db.Database(engine), new_outbox()),
            Clock(),
            ContactDirectory(),
        )
        organization_id, key = Accounts(uow).create_organization("Acme")
        users = PortalUsers(uow, crm, session_ttl_ms=30 * DAY_MS, clock=clock)
        # Sign-ins come from the organization's API key, as the frontend's server makes them.
        credentials = Credentials(uow, crm, clock)
        caller = credentials.resolve(hash_credential(key))
        sync_user = users.sync_user
        users.sync_user = lambda credential, *login: sync_user(caller, credential, OAuthLogin(*login))
        yield users, credentials, crm, clock, organization_id, key


def test_first_sync_creates_then_updates_the_same_user(world):
    users, credentials, crm, clock, org, key = world
    first = users.sync_user(key, "Jo@Example.com", "Jo", "google", "g-1")
    clock.now += 1000
    second = users.sync_user(key, " jo@example.com ", "Jo Doe", "google", "g-1")
    assert first.created and not second.created
    assert second.user.id == first.user.id
    assert (second.user.display_name, second.user.last_login) == ("Jo Doe", clock.now)
    assert first.session_token != second.session_token


def test_the_same_provider_account_is_the_same_user_even_with_a_new_email(world):
    users, *_, org, key = world
    first = users.sync_user(key, "old@example.com", "", "microsoft", "m-1")
    moved = users.sync_user(key, "new@example.com", "", "microsoft", "m-1")
    assert moved.user.id == first.user.id and moved.user.email == "new@example.com"


@pytest.mark.parametrize("provider, oauth_id", [("google", "g-2"), ("microsoft", "m-9")])
def test_an_unbound_identity_never_takes_over_a_bound_email(world, provider, oauth_id):
    users, credentials, *_, org, key = world
    first = users.sync_user(key, "jo@example.com", "", "google", "g-1")
    with pytest.raises(Conflict) as refused:  # the "nOAuth" pattern: any provider, any account id
        users.sync_user(key, "Jo@Example.com", "", provider, oauth_id)
    assert refused.value.field == "oauth_id" and "another sign-in identity" in refused.value.message
    assert users.sync_user(key, "jo@example.com", "", "google", "g-1").user.id == first.user.id
    users.sync_user(key, "ann@example.com", "", "google", "g-3")
    with pytest.raises(Conflict):  # g-1 signs in with an email that is Ann's
        users.sync_user(key, "ann@example.com", "", "google", "g-1")


def test_invalid_sign_ins_name_the_field(world):
    users, *_, org, key = world
    with pytest.raises(InvalidArgument) as raised:
        users.sync_user(key, "jo@example.com", "", "github", "1")
    assert raised.value.field == "oauth_provider"


def test_the_crm_link_follows_the_crm_and_survives_its_outages(world):
    users, credentials, crm, clock, org, key = world
    assert users.sync_user(key, "jo@example.com", "", "google", "g-1").user.crm_contact_id is None
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_1")
    linked = users.sync_user(key, "jo@example.com", "", "google", "g-1")
    assert (linked.user.crm_contact_id, linked.user.crm_organization_id) == ("ct_1", "co_1")
    crm.down = True
    during_outage = users.sync_user(key, "jo@example.com", "", "google", "g-1")
    assert during_outage.user.crm_contact_id == "ct_1"  # kept, not dropped
    with pytest.raises(Unavailable):  # what the session may see is not known: no guess, a 503
        credentials.resolve(hash_credential(during_outage.session_token))
    crm.down = False
    crm.granted.add("ct_1")
    principal = credentials.resolve(hash_credential(during_outage.session_token))
    assert (principal.kind, principal.crm_contact_id, principal.crm_organization_id) == (PORTAL_USER, "ct_1", "co_1")


def test_a_session_sees_what_its_contact_may_see_now(world):
    users, credentials, crm, clock, org, key = world
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_1")
    session = hash_credential(users.sync_user(key, "jo@example.com", "", "google", "g-1").session_token)
    own = credentials.resolve(session)
    assert (own.crm_contact_id, own.crm_organization_id) == ("ct_1", "")  # own records only by default
    crm.granted.add("ct_1")
    assert credentials.resolve(session).crm_organization_id == "co_1"
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_2")  # moved, still granted
    assert credentials.resolve(session).crm_organization_id == "co_2"
    crm.granted.discard("ct_1")  # the CRM drops a grant when it moves a contact
    assert credentials.resolve(session).crm_organization_id == ""
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_2", active=False)  # archived
    assert credentials.resolve(session) is None


def test_an_archived_contact_cannot_sign_in(world):
    users, credentials, crm, clock, org, key = world
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_1", active=False)
    with pytest.raises(PermissionDenied) as refused:
        users.sync_user(key, "jo@example.com", "", "google", "g-1")
    assert "archived" in refused.value.message


def test_sessions_expire_and_end_at_logout(world):
    users, credentials, crm, clock, org, key = world
    sign_in = users.sync_user(key, "jo@example.com", "", "google", "g-1")
    credential = hash_credential(sign_in.session_token)
    principal = credentials.resolve(credential)
    assert principal.organization_id == org and principal.expires_at == clock.now + 30 * DAY_MS
    clock.now += 30 * DAY_MS - 1
    assert credentials.resolve(credential) is not None
    clock.now += 1
    assert credentials.resolve(credential) is None
    other = users.sync_user(key, "jo@example.com", "", "google", "g-1")
    users.logout(credentials.resolve(hash_credential(other.session_token)))
    assert credentials.resolve(hash_credential(other.session_token)) is None


def test_a_disabled_user_cannot_sign_in_and_its_sessions_stop(world):
    users, credentials, crm, clock, org, key = world
    sign_in = users.sync_user(key, "jo@example.com", "", "google", "g-1")
    users.update_user(org, sign_in.user.id, PortalUserChanges("disabled"))
    assert credentials.resolve(hash_credential(sign_in.session_token)) is None
    with pytest.raises(PermissionDenied):
        users.sync_user(key, "jo@example.com", "", "google", "g-1")
    users.update_user(org, sign_in.user.id, PortalUserChanges("active"))
    assert users.sync_user(key, "jo@example.com", "", "google", "g-1").user.status == "active"
    with pytest.raises(InvalidArgument):
        PortalUserChanges("banned")


def test_administration_stays_within_the_organization(world):
    users, credentials, crm, clock, org, key = world
    user = users.sync_user(key, "jo@example.com", "", "google", "g-1").user
    for call in (
        lambda: users.update_user("org_other", user.id, PortalUserChanges("disabled")),
        lambda: users.end_sessions("org_other", user.id),
        lambda: users.get_user("org_other", user.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert users.list_users("org_other", "", 50, 0) == ([], 0)
    assert [u.id for u in users.list_users(org, "active", 50, 0)[0]] == [user.id]


def test_ending_sessions_ends_every_live_one(world):
    users, credentials, crm, clock, org, key = world
    tokens = [users.sync_user(key, "jo@example.com", "", "google", "g-1").session_token for _ in range(3)]
    user_id = credentials.resolve(hash_credential(tokens[0])).portal_user_id
    assert users.end_sessions(org, user_id) == 3
    assert all(credentials.resolve(hash_credential(token)) is None for token in tokens)
    assert users.end_sessions(org, user_id) == 0


def test_a_user_keeps_at_most_twenty_live_sessions_the_oldest_end_first(world):
    users, credentials, crm, clock, org, key = world
    tokens = []
    for _ in range(22):
        clock.now += 1
        tokens.append(users.sync_user(key, "jo@example.com", "", "google", "g-1").session_token)
    live = [credentials.resolve(hash_credential(token)) is not None for token in tokens]
    assert live == [False, False] + [True] * 20


def test_revoking_the_api_key_ends_the_sessions_it_opened(world, databases):
    users, credentials, crm, clock, org, key = world
    session = users.sync_user(key, "jo@example.com", "", "google", "g-1").session_token
    assert credentials.resolve(hash_credential(session)) is not None
    key_id = credentials.resolve(hash_credential(key)).credential_id
    Accounts(users._uow).revoke_api_key(key_id)
    assert credentials.resolve(hash_credential(session)) is None


def test_expired_and_ended_sessions_are_purged(world):
    users, credentials, crm, clock, org, key = world
    ended = users.sync_user(key, "jo@example.com", "", "google", "g-1").session_token
    users.logout(credentials.resolve(hash_credential(ended)))
    clock.now += DAY_MS
    kept = users.sync_user(key, "jo@example.com", "", "google", "g-1").session_token
    clock.now += 30 * DAY_MS - DAY_MS
    expiring = users.sync_user(key, "jo@example.com", "", "google", "g-1").session_token
    clock.now += DAY_MS  # `kept` has just expired, `expiring` has 29 days left
    assert users.purge_sessions() == 2
    assert credentials.resolve(hash_credential(expiring)) is not None
    assert credentials.resolve(hash_credential(kept)) is None
