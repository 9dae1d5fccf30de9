"""The auth service's records in its tables, and the unit of work that holds them."""

import dataclasses

import sqlalchemy as sa

from auth.adapters.tables import api_keys, organizations, portal_identities, portal_sessions, portal_users
from auth.domain.accounts import ADDRESS_FIELDS, ApiKey, Organization, PostalAddress
from auth.domain.portal_users import ACTIVE, LiveSession, PortalSession, PortalUser
from portal_common.db import Repository
from portal_common.outbox import OutboxUnitOfWork

_KEY_COLUMNS = [api_keys.c[field.name] for field in dataclasses.fields(ApiKey)]
_USER_COLUMNS = [portal_users.c[field.name] for field in dataclasses.fields(PortalUser)]


def _organization_values(organization: Organization) -> dict:
    """The row of an organization: its address in columns of their own."""
    values = {field.name: getattr(organization, field.name) for field in dataclasses.fields(Organization)}
    return values | dataclasses.asdict(values.pop("address"))


def _organization(row) -> Organization:
    values = dict(row._mapping)
    address = PostalAddress(**{name: values.pop(name) for name in ADDRESS_FIELDS})
    return Organization(**values, address=address)


class Organizations(Repository):
    def add(self, organization: Organization) -> None:
        self._connection.execute(organizations.insert().values(**_organization_values(organization)))

    def get(self, organization_id: str) -> Organization | None:
        row = self._connection.execute(
            self._reading(sa.select(organizations).where(organizations.c.id == organization_id))
        ).first()
        return _organization(row) if row else None

    def save(self, organization: Organization) -> None:
        self._connection.execute(
            organizations.update()
            .where(organizations.c.id == organization.id)
            .values(**_organization_values(organization))
        )

    def exists(self, organization_id: str) -> bool:
        query = sa.select(organizations.c.id).where(organizations.c.id == organization_id)
        return self._connection.execute(query).first() is not None

    def any(self) -> bool:
        return self._connection.execute(sa.select(organizations.c.id).limit(1)).first() is not None


class ApiKeys(Repository):
    def add(self, key: ApiKey, key_hash: str) -> None:
        self._connection.execute(api_keys.insert().values(**dataclasses.asdict(key), key_hash=key_hash))

    def get(self, key_id: str) -> ApiKey | None:
        return self._one(self._reading(sa.select(*_KEY_COLUMNS).where(api_keys.c.id == key_id)))

    def live(self, key_hash: str) -> ApiKey | None:
        """The unrevoked key with this hash."""
        return self._one(
            sa.select(*_KEY_COLUMNS).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        )

    def of_organization(self, organization_id: str) -> list[ApiKey]:
        rows = self._connection.execute(
            sa.select(*_KEY_COLUMNS)
            .where(api_keys.c.organization_id == organization_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        return [ApiKey(**row._mapping) for row in rows]

    # Each writes only what it is about: a use, recorded outside any lock, must never undo a
    # revocation made meanwhile.
    def record_use(self, key: ApiKey) -> None:
        self._connection.execute(api_keys.update().where(api_keys.c.id == key.id).values(last_used_at=key.last_used_at))

    def record_revocation(self, key: ApiKey) -> None:
        self._connection.execute(api_keys.update().where(api_keys.c.id == key.id).values(revoked_at=key.revoked_at))

    def _one(self, query: sa.Select) -> ApiKey | None:
        row = self._connection.execute(query).first()
        return ApiKey(**row._mapping) if row else None


class PortalUsers(Repository):
    def get(self, organization_id: str, user_id: str) -> PortalUser | None:
        return self._one(portal_users.c.id == user_id, portal_users.c.organization_id == organization_id)

    def with_email(self, organization_id: str, email: str) -> PortalUser | None:
        return self._one(portal_users.c.email_key == email.lower(), portal_users.c.organization_id == organization_id)

    def with_identity(self, organization_id: str, provider: str, oauth_id: str) -> PortalUser | None:
        """The user bound to this provider account."""
        bound = (
            sa.select(portal_identities.c.user_id)
            .where(
                portal_identities.c.organization_id == organization_id,
                portal_identities.c.provider == provider,
                portal_identities.c.oauth_id == oauth_id,
            )
            .scalar_subquery()
        )
        return self._one(portal_users.c.id == bound)

    def add(self, user: PortalUser) -> None:
        """A new user, bound to the identity it signed in with."""
        self._connection.execute(portal_users.insert().values(**self._values(user)))
        self._connection.execute(
            portal_identities.insert().values(
                organization_id=user.organization_id,
                provider=user.oauth_provider,
                oauth_id=user.oauth_id,
                user_id=user.id,
            )
        )

    def save(self, user: PortalUser) -> None:
        self._connection.execute(portal_users.update().where(portal_users.c.id == user.id).values(**self._values(user)))

    def page(self, organization_id: str, status: str | None, limit: int, offset: int) -> tuple[list[PortalUser], int]:
        """A page of the organization's users (of `status`, if given), newest first, and how many there are."""
        conditions = [portal_users.c.organization_id == organization_id]
        if status:
            conditions.append(portal_users.c.status == status)
        rows = self._connection.execute(
            sa.select(*_USER_COLUMNS)
            .where(*conditions)
            .order_by(portal_users.c.created_at.desc(), portal_users.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        total = self._connection.execute(sa.select(sa.func.count()).select_from(portal_users).where(*conditions))
        return [PortalUser(**row._mapping) for row in rows], total.scalar_one()

    def _one(self, *conditions) -> PortalUser | None:
        row = self._connection.execute(self._reading(sa.select(*_USER_COLUMNS).where(*conditions))).first()
        return PortalUser(**row._mapping) if row else None

    @staticmethod
    def _values(user: PortalUser) -> dict:
        return dataclasses.asdict(user) | {"email_key": user.email_key}


class PortalSessions(Repository):
    def add(self, session: PortalSession, token_hash: str) -> None:
        self._connection.execute(portal_sessions.insert().values(**dataclasses.asdict(session), token_hash=token_hash))

    def live(self, token_hash: str, now: int) -> LiveSession | None:
        """The session with this token hash if it may be used now; sessions opened before they
        recorded their API key have none, and live until they expire."""
        row = self._connection.execute(
            sa.select(
                portal_sessions.c.id,
                portal_sessions.c.user_id,
                portal_users.c.organization_id,
                portal_sessions.c.expires_at,
                portal_users.c.crm_contact_id,
            )
            .join(portal_users, portal_users.c.id == portal_sessions.c.user_id)
            .outerjoin(api_keys, api_keys.c.id == portal_sessions.c.api_key_id)
            .where(
                portal_sessions.c.token_hash == token_hash,
                portal_sessions.c.revoked_at.is_(None),
                portal_sessions.c.expires_at > now,
                portal_users.c.status == ACTIVE,
                api_keys.c.revoked_at.is_(None),
            )
        ).first()
        return LiveSession(**row._mapping) if row else None

    def end(self, session_id: str, now: int) -> None:
        self._connection.execute(
            portal_sessions.update()
            .where(portal_sessions.c.id == session_id, portal_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def end_live(self, user_id: str, now: int, keeping: int = 0) -> int:
        """Ends the user's live sessions but the newest `keeping`; returns how many it ended."""
        ending = (
            self._connection.execute(
                sa.select(portal_sessions.c.id)
                .where(
                    portal_sessions.c.user_id == user_id,
                    portal_sessions.c.revoked_at.is_(None),
                    portal_sessions.c.expires_at > now,
                )
                .order_by(portal_sessions.c.created_at.desc(), portal_sessions.c.id.desc())
                .offset(keeping)
            )
            .scalars()
            .all()
        )
        if ending:
            self._connection.execute(
                portal_sessions.update().where(portal_sessions.c.id.in_(ending)).values(revoked_at=now)
            )
        return len(ending)

    def purge(self, now: int) -> int:
        """Deletes the expired and ended sessions: they can never be used again."""
        return self._connection.execute(
            portal_sessions.delete().where(
                sa.or_(portal_sessions.c.expires_at <= now, portal_sessions.c.revoked_at.is_not(None))
            )
        ).rowcount


class SqlAuthUnitOfWork(OutboxUnitOfWork):
    """One transaction on the auth database, and the events it records. A read-only one takes no
    write lock (SQLite's BEGIN, not BEGIN IMMEDIATE) and locks no rows: credentials are resolved
    with one on every request."""

    def open(self, connection: sa.Connection) -> None:
        locking = not self.read_only
        self.organizations = Organizations(connection, locking)
        self.api_keys = ApiKeys(connection, locking)
        self.portal_users = PortalUsers(connection, locking)
        self.sessions = PortalSessions(connection, locking)
