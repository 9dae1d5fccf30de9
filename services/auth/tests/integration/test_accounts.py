import functools

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from auth.adapters.repositories import SqlAuthUnitOfWork
from auth.config import MIGRATIONS
from auth.domain.accounts import ADDRESS_FIELDS, PostalAddress, ProfileChanges
from auth.server import new_outbox
from auth.service_layer.accounts import Accounts
from auth.service_layer.credentials import Credentials
from portal_common import db
from portal_common.auth import API_KEY, hash_credential
from portal_common.domain_errors import InvalidArgument, NotFound


@pytest.fixture
def engine(databases):
    with databases.migrated_engine("auth", MIGRATIONS) as engine:
        yield engine


@pytest.fixture
def uow(engine):
    return functools.partial(SqlAuthUnitOfWork, db.Database(engine), new_outbox())


@pytest.fixture
def accounts(uow):
    return Accounts(uow)


@pytest.fixture
def credentials(uow):
    return Credentials(uow, crm=None)  # API keys never ask the CRM


def test_keys_resolve_to_their_organization_until_revoked(accounts, credentials):
    organization_id, first = accounts.create_organization("Acme Ltd")
    second = accounts.create_api_key(organization_id)
    principal = credentials.resolve(hash_credential(first))
    assert (principal.kind, principal.organization_id) == (API_KEY, organization_id)
    listed = accounts.list_api_keys(organization_id)
    assert [k.prefix for k in listed] == [first[:11], second[:11]]
    assert listed[0].last_used_at is not None and listed[1].last_used_at is None
    accounts.revoke_api_key(listed[0].id)
    assert credentials.resolve(hash_credential(first)) is None
    assert credentials.resolve(hash_credential(second)).organization_id == organization_id
    assert credentials.resolve(hash_credential("pk_unknown")) is None


def test_secrets_are_never_stored_or_listed(accounts, engine):
    organization_id, secret = accounts.create_organization("Acme Ltd")
    with engine.connect() as connection:
        stored = [
            tuple(row)
            for table in ("organizations", "api_keys")
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
        ]
    assert secret not in repr(stored)
    assert secret not in repr(accounts.list_api_keys(organization_id))


def test_demo_organization_is_created_only_when_there_is_none(accounts):
    created = accounts.ensure_demo_organization()
    assert created and created[1].startswith("pk_")
    assert accounts.ensure_demo_organization() is None


def test_bad_names_and_unknown_ids_are_refused(accounts):
    with pytest.raises(InvalidArgument):
        accounts.create_organization("   ")
    with pytest.raises(NotFound):
        accounts.create_api_key("org_missing")
    with pytest.raises(NotFound):
        accounts.revoke_api_key("key_missing")


def test_the_profile_is_stored_in_full_and_read_back(accounts):
    organization_id, _ = accounts.create_organization("Acme")
    every_field = {
        "name": "Acme Consulting",
        "legal_name": "Acme Consulting GmbH",
        "email": "billing@acme.example",
        "phone": "+49 30 1234567",
        "website": "https://acme.example",
        "tax_id": "DE123456789",
        **{f"address.{name}": f"{name} ü" for name in ADDRESS_FIELDS},
    }
    changed = accounts.update_organization(organization_id, ProfileChanges(every_field))
    assert accounts.organization(organization_id) == changed
    assert changed.address == PostalAddress(**{name: f"{name} ü" for name in ADDRESS_FIELDS})
    cleared = accounts.update_organization(organization_id, ProfileChanges({"legal_name": None, "address": None}))
    assert accounts.organization(organization_id) == cleared
    assert (cleared.legal_name, cleared.address, cleared.tax_id) == (None, PostalAddress(), "DE123456789")


def test_organizations_made_before_the_profile_read_with_an_empty_one(databases):
    """0004 adds the profile to existing organizations: updatedAt is their creation."""
    engine = db.create_engine(databases.new_url("auth"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(sa.text("INSERT INTO organizations (id, name, created_at) VALUES ('org_old', 'Old', 42)"))
    db.migrate(engine, MIGRATIONS)
    organization = Accounts(functools.partial(SqlAuthUnitOfWork, db.Database(engine), new_outbox())).organization(
        "org_old"
    )
    assert (organization.name, organization.created_at, organization.updated_at) == ("Old", 42, 42)
    assert (organization.email, organization.address) == (None, PostalAddress())
    engine.dispose()
