"""Use cases of organizations and API keys; one transaction each."""
import sqlalchemy as sa

from auth.adapters.tables import api_keys, organizations
from auth.domain.credentials import API_KEY_PREFIX, generate_credential
from portal_common.clock import now_ms
from portal_common.db import Database
from portal_common.domain_errors import InvalidArgument, NotFound
from portal_common.ids import new_id

DEMO_ORGANIZATION_NAME = "Demo Organization"


class Accounts:
    def __init__(self, database: Database):
        self._database = database

    def create_organization(self, name: str) -> tuple[str, str]:
        """Creates an organization with a first API key; returns (organization id, key secret)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidArgument("organization name must be 1 to 200 characters", field="name")
        organization_id = new_id("org")
        with self._database.write() as connection:
            connection.execute(organizations.insert().values(id=organization_id, name=name, created_at=now_ms()))
            secret = self._insert_key(connection, organization_id)
            connection.commit()
        return organization_id, secret

    def ensure_demo_organization(self) -> tuple[str, str] | None:
        """Creates the demo organization when there is no organization at all, else None."""
        with self._database.read() as connection:
            if connection.execute(sa.select(organizations.c.id).limit(1)).first():
                return None
        return self.create_organization(DEMO_ORGANIZATION_NAME)

    def create_api_key(self, organization_id: str) -> str:
        with self._database.write() as connection:
            self._require_organization(connection, organization_id)
            secret = self._insert_key(connection, organization_id)
            connection.commit()
        return secret

    def list_api_keys(self, organization_id: str) -> list[dict]:
        with self._database.read() as connection:
            self._require_organization(connection, organization_id)
            rows = connection.execute(
                sa.select(api_keys.c.id, api_keys.c.prefix, api_keys.c.created_at,
                          api_keys.c.last_used_at, api_keys.c.revoked_at)
                .where(api_keys.c.organization_id == organization_id)
                .order_by(api_keys.c.created_at, api_keys.c.id)).all()
        return [{"id": r.id, "prefix": r.prefix, "createdAt": r.created_at,
                 "lastUsedAt": r.last_used_at, "revokedAt": r.revoked_at} for r in rows]

    def revoke_api_key(self, key_id: str) -> int:
        """Revokes the key (idempotent); returns when it was revoked."""
        with self._database.write() as connection:
            row = connection.execute(sa.select(api_keys.c.revoked_at).where(api_keys.c.id == key_id)).first()
            if row is None:
                raise NotFound(f"API key {key_id} not found")
            revoked_at = row.revoked_at or now_ms()
            connection.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=revoked_at))
            connection.commit()
        return revoked_at

    @staticmethod
    def _require_organization(connection, organization_id: str) -> None:
        if not connection.execute(sa.select(organizations.c.id).where(organizations.c.id == organization_id)).first():
            raise NotFound(f"organization {organization_id} not found")

    @staticmethod
    def _insert_key(connection, organization_id: str) -> str:
        key = generate_credential(API_KEY_PREFIX)
        connection.execute(api_keys.insert().values(
            id=new_id("key"), organization_id=organization_id, prefix=key.prefix,
            key_hash=key.hash, created_at=now_ms()))
        return key.secret
