"""The use cases against a fake unit of work: in-memory repositories that keep copies, as a
database would, so that only what a use case saves is kept."""

import dataclasses

import pytest

from auth.domain.accounts import PostalAddress, ProfileChanges
from auth.domain.portal_users import (
    ACTIVE,
    ContactAccess,
    ContactLink,
    LiveSession,
    OAuthLogin,
    PortalUserChanges,
)
from auth.service_layer.accounts import Accounts
from auth.service_layer.credentials import Credentials
from auth.service_layer.portal_users import PortalUsers
from portal_common.auth import API_KEY, PORTAL_USER, Principal
from portal_common.credential_format import hash_credential
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unavailable
from portal_common.outbox import MemoryEvents, RecordedEvent

DAY_MS = 24 * 3600 * 1000
copy = dataclasses.replace


class FakeOrganizations:
    def __init__(self):
        self.rows = {}

    def add(self, organization):
        self.rows[organization.id] = copy(organization)

    def get(self, organization_id):
        return copy(self.rows[organization_id]) if organization_id in self.rows else None

    def save(self, organization):
        self.rows[organization.id] = copy(organization)

    def exists(self, organization_id):
        return organization_id in self.rows

    def any(self):
        return bool(self.rows)


class FakeApiKeys:
    def __init__(self):
        self.rows, self.hashes = {}, {}

    def add(self, key, key_hash):
        self.rows[key.id], self.hashes[key_hash] = copy(key), key.id

    def get(self, key_id):
        return copy(self.rows[key_id]) if key_id in self.rows else None

    def live(self, key_hash):
        key = self.get(self.hashes.get(key_hash))
        return key if key and key.revoked_at is None else None

    def of_organization(self, organization_id):
        return [copy(key) for key in self.rows.values() if key.organization_id == organization_id]

    def record_use(self, key):
        self.rows[key.id].last_used_at = key.last_used_at

    def record_revocation(self, key):
        self.rows[key.id].revoked_at = key.revoked_at


class FakePortalUsers:
    def __init__(self):
        self.rows, self.identities = {}, {}

    def get(self, organization_id, user_id):
        user = self.rows.get(user_id)
        return copy(user) if user and user.organization_id == organization_id else None

    def with_email(self, organization_id, email):
        return next(
            (
                copy(u)
                for u in self.rows.values()
                if u.organization_id == organization_id and u.email_key == email.lower()
            ),
            None,
        )

    def with_identity(self, organization_id, provider, oauth_id):
        return self.get(organization_id, self.identities.get((organization_id, provider, oauth_id)))

    def add(self, user):
        self.rows[user.id] = copy(user)
        self.identities[(user.organization_id, user.oauth_provider, user.oauth_id)] = user.id

    def save(self, user):
        self.rows[user.id] = copy(user)

    def page(self, organization_id, status, limit, offset):
        users = sorted(
            (u for u in self.rows.values() if u.organization_id == organization_id and status in (None, u.status)),
            key=lambda u: (u.created_at, u.id),
            reverse=True,
        )
        return [copy(u) for u in users[offset : offset + limit]], len(users)


class FakeSessions:
    def __init__(self, users, keys):
        self.rows, self.hashes, self._users, self._keys = {}, {}, users, keys

    def add(self, session, token_hash):
        self.rows[session.id], self.hashes[token_hash] = session, session.id

    def _live(self, session, now):
        return session.revoked_at is None and session.expires_at > now

    def live(self, token_hash, now):
        session = self.rows.get(self.hashes.get(token_hash))
        if not session or not self._live(session, now):
            return None
        user = self._users.rows[session.user_id]
        key = self._keys.rows.get(session.api_key_id)
        if user.status != ACTIVE or (key and key.revoked_at is not None):
            return None
        return LiveSession(session.id, user.id, user.organization_id, session.expires_at, user.crm_contact_id)

    def end(self, session_id, now):
        if self.rows[session_id].revoked_at is None:
            self.rows[session_id] = copy(self.rows[session_id], revoked_at=now)

    def end_live(self, user_id, now, keeping=0):
        live = sorted(
            (s for s in self.rows.values() if s.user_id == user_id and self._live(s, now)),
            key=lambda s: (s.created_at, s.id),
            reverse=True,
        )[keeping:]
        for session in live:
            self.end(session.id, now)
        return len(live)

    def purge(self, now):
        ended = [s.id for s in self.rows.values() if not self._live(s, now)]
        for session_id in ended:
            del self.rows[session_id]
        return len(ended)


class FakeUnitOfWork:
    """The unit of work and its factory in one: every call gives the same in-memory database."""

    def __init__(self):
        self.organizations, self.api_keys, self.portal_users = FakeOrganizations(), FakeApiKeys(), FakePortalUsers()
        self.sessions = FakeSessions(self.portal_users, self.api_keys)
        self.commits = 0
        self.recorded: list[RecordedEvent] = []  # the events of committed units of work

    def __call__(self, read_only=False):
        return self

    def __enter__(self):
        self.events = MemoryEvents()
        return self

    def __exit__(self, *exc):
        pass

    def commit(self):
        self.commits += 1
        self.recorded += self.events.added


class Clock:
    def __init__(self):
        self.now = 1_700_000_000_000

    def __call__(self):
        return self.now


class FakeCrm:
    def __init__(self):
        self.contacts, self.granted, self.down = {}, set(), False

    def find_contact(self, email, credential):
        if self.down:
            raise Unavailable("CRM down")
        return self.contacts.get(email.lower())

    def contact_access(self, organization_id, contact_id):
        link = next((link for link in self.contacts.values() if link.contact_id == contact_id), None)
        return link and ContactAccess(link.active, link.crm_organization_id or "", contact_id in self.granted)


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def crm():
    return FakeCrm()


@pytest.fixture
def accounts(uow, clock):
    return Accounts(uow, clock)


@pytest.fixture
def credentials(uow, crm, clock):
    return Credentials(uow, crm, clock)


@pytest.fixture
def users(uow, crm, clock):
    return PortalUsers(uow, crm, session_ttl_ms=30 * DAY_MS, clock=clock)


@pytest.fixture
def caller(accounts, credentials):
    _, key = accounts.create_organization("Acme")
    return credentials.resolve(hash_credential(key))


def login(email="jo@example.com", provider="google", oauth_id="g-1", name=""):
    return OAuthLogin(email, name, provider, oauth_id)


def test_an_organization_starts_with_one_key_stored_only_as_its_hash(accounts, uow):
    organization_id, secret = accounts.create_organization("  Acme  ")
    assert uow.organizations.rows[organization_id].name == "Acme" and uow.commits == 1
    [key] = accounts.list_api_keys(organization_id)
    assert secret.startswith(key.prefix) and hash_credential(secret) in uow.api_keys.hashes
    assert accounts.ensure_demo_organization() is None
    with pytest.raises(InvalidArgument):
        accounts.create_organization(" ")
    with pytest.raises(NotFound):
        accounts.create_api_key("org_missing")


def test_revoking_a_key_keeps_the_first_time_and_stops_it_resolving(accounts, credentials, clock):
    organization_id, secret = accounts.create_organization("Acme")
    key_id = credentials.resolve(hash_credential(secret)).credential_id
    first = accounts.revoke_api_key(key_id).revoked_at
    clock.now += 1000
    assert accounts.revoke_api_key(key_id).revoked_at == first == accounts.list_api_keys(organization_id)[0].revoked_at
    assert credentials.resolve(hash_credential(secret)) is None
    with pytest.raises(NotFound):
        accounts.revoke_api_key("key_missing")


def test_a_key_use_is_recorded_at_most_once_a_minute(accounts, credentials, uow, clock):
    organization_id, secret = accounts.create_organization("Acme")
    commits = uow.commits
    for _ in range(3):
        principal = credentials.resolve(hash_credential(secret))
    assert (principal.kind, principal.organization_id) == (API_KEY, organization_id)
    assert uow.commits == commits + 1
    clock.now += 60_000
    credentials.resolve(hash_credential(secret))
    assert uow.commits == commits + 2 and accounts.list_api_keys(organization_id)[0].last_used_at == clock.now


def test_sign_in_creates_then_updates_the_user_and_opens_sessions(users, credentials, caller, clock):
    first = users.sync_user(caller, "pk", login(name="Jo"))
    clock.now += 1000
    second = users.sync_user(caller, "pk", login(email="JO@example.com"))
    assert first.created and not second.created and second.user.id == first.user.id
    assert (second.user.email, second.user.display_name, second.user.last_login) == ("JO@example.com", "Jo", clock.now)
    principal = credentials.resolve(hash_credential(second.session_token))
    assert (principal.kind, principal.portal_user_id, principal.expires_at) == (
        PORTAL_USER,
        first.user.id,
        clock.now + 30 * DAY_MS,
    )


def test_an_unbound_identity_never_takes_over_an_email(users, caller):
    users.sync_user(caller, "pk", login())
    with pytest.raises(Conflict) as refused:
        users.sync_user(caller, "pk", login(provider="microsoft", oauth_id="m-1"))
    assert refused.value.field == "oauth_id"


def test_the_crm_link_is_kept_through_an_outage_and_archived_contacts_are_refused(users, credentials, crm, caller):
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_1")
    assert users.sync_user(caller, "pk", login()).user.crm_contact_id == "ct_1"
    crm.down = True
    during = users.sync_user(caller, "pk", login())
    assert during.user.crm_contact_id == "ct_1"
    crm.down = False
    crm.granted.add("ct_1")
    assert credentials.resolve(hash_credential(during.session_token)).crm_organization_id == "co_1"
    crm.contacts["jo@example.com"] = ContactLink("ct_1", "co_1", active=False)
    assert credentials.resolve(hash_credential(during.session_token)) is None
    with pytest.raises(PermissionDenied):
        users.sync_user(caller, "pk", login())


def test_a_user_keeps_at_most_twenty_live_sessions(users, credentials, caller, clock):
    tokens = []
    for _ in range(22):
        clock.now += 1
        tokens.append(users.sync_user(caller, "pk", login()).session_token)
    assert [credentials.resolve(hash_credential(t)) is not None for t in tokens] == [False, False] + [True] * 20
    assert users.purge_sessions() == 2


def test_the_organization_disables_users_and_ends_their_sessions(users, credentials, caller, uow, clock):
    sign_in = users.sync_user(caller, "pk", login())
    org, user_id = caller.organization_id, sign_in.user.id
    commits = uow.commits
    assert users.update_user(org, user_id, PortalUserChanges(ACTIVE)).status == ACTIVE
    assert uow.commits == commits  # nothing changed, nothing written
    clock.now += 5
    disabled = users.update_user(org, user_id, PortalUserChanges("disabled"))
    assert (disabled.status, disabled.updated_at) == ("disabled", clock.now)
    assert credentials.resolve(hash_credential(sign_in.session_token)) is None
    assert users.list_users(org, "disabled", 50, 0) == ([disabled], 1)
    with pytest.raises(PermissionDenied):
        users.sync_user(caller, "pk", login())
    users.update_user(org, user_id, PortalUserChanges(ACTIVE))
    assert users.end_sessions(org, user_id) == 1 and users.end_sessions(org, user_id) == 0
    for call in (lambda: users.get_user("org_other", user_id), lambda: users.end_sessions("org_other", user_id)):
        with pytest.raises(NotFound):
            call()


def test_logout_ends_the_session_presented(users, credentials, caller):
    token = users.sync_user(caller, "pk", login()).session_token
    principal = credentials.resolve(hash_credential(token))
    assert users.current_user(principal).email == "jo@example.com"
    users.logout(principal)
    assert credentials.resolve(hash_credential(token)) is None
    with pytest.raises(NotFound):
        users.current_user(
            Principal(kind=PORTAL_USER, organization_id=caller.organization_id, portal_user_id="pu_missing")
        )


def test_the_profile_starts_as_the_name_and_changes_by_what_is_given(accounts, uow, clock):
    organization_id, _ = accounts.create_organization("Acme")
    created = accounts.organization(organization_id)
    assert (created.name, created.legal_name, created.address) == ("Acme", None, PostalAddress())
    assert created.created_at == created.updated_at == clock.now
    clock.now += 1000
    changed = accounts.update_organization(
        organization_id,
        ProfileChanges(
            {"legal_name": " Acme GmbH ", "email": "billing@acme.example", "tax_id": "DE123", "address.city": "Berlin"}
        ),
    )
    assert accounts.organization(organization_id) == changed and changed.updated_at == clock.now
    assert (changed.legal_name, changed.email, changed.tax_id, changed.address.city) == (
        "Acme GmbH",
        "billing@acme.example",
        "DE123",
        "Berlin",
    )
    # Only what is named changes; null clears; an address field given alone keeps the others.
    changed = accounts.update_organization(
        organization_id, ProfileChanges({"email": None, "address.country": "DE", "name": "Acme Two"})
    )
    assert (changed.name, changed.email, changed.legal_name) == ("Acme Two", None, "Acme GmbH")
    assert changed.address == PostalAddress(city="Berlin", country="DE")
    assert accounts.update_organization(organization_id, ProfileChanges({"address": None})).address == PostalAddress()


def test_a_refused_profile_change_changes_nothing(accounts, uow):
    organization_id, _ = accounts.create_organization("Acme")
    before = accounts.organization(organization_id)
    with pytest.raises(InvalidArgument) as raised:
        accounts.update_organization(organization_id, ProfileChanges({"legal_name": "Fine", "email": "nope"}))
    assert raised.value.field == "email"
    assert accounts.organization(organization_id) == before
    with pytest.raises(NotFound):
        accounts.update_organization("org_missing", ProfileChanges({"name": "X"}))


def test_only_the_sign_in_that_creates_a_user_records_portal_user_created(users, caller, crm, uow):
    first = users.sync_user(caller, "pk", login(name="Jo"))
    users.sync_user(caller, "pk", login(name="Jo B"))
    with pytest.raises(Conflict):  # an unbound identity never takes over an email: refused, nothing recorded
        users.sync_user(caller, "pk", login(provider="microsoft", oauth_id="m-1"))
    assert [(e.type, e.organization_id, e.obj.id) for e in uow.recorded] == [
        ("portal_user.created", caller.organization_id, first.user.id)
    ]
    assert uow.recorded[0].obj.email == "jo@example.com"
