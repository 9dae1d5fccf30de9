"""Sign-in of portal users and their sessions; one transaction per use case."""
import dataclasses
from typing import Callable, Protocol

import sqlalchemy as sa

from auth.adapters.crm_client import ContactLink
from auth.adapters.tables import portal_identities, portal_sessions, portal_users
from auth.domain.credentials import SESSION_PREFIX, generate_credential
from auth.domain.portal_users import (
    MAX_LIVE_SESSIONS, STATUSES, PortalUser, check_may_sign_in, clean_sign_in, identity_conflict,
)
from portal_common.auth import Principal
from portal_common.clock import now_ms
from portal_common.db import Database
from portal_common.domain_errors import Conflict, NotFound, PermissionDenied, Unavailable
from portal_common.ids import new_id
from portal_common.validation import check_choice

_USER_FIELDS = [f.name for f in dataclasses.fields(PortalUser)]


class ContactFinder(Protocol):
    def find_contact(self, email: str, credential: str) -> ContactLink | None: ...


@dataclasses.dataclass(frozen=True)
class SignIn:
    user: PortalUser
    created: bool
    session_token: str
    expires_at: int


class PortalUsers:
    def __init__(self, database: Database, crm: ContactFinder, session_ttl_ms: int,
                 clock: Callable[[], int] = now_ms):
        self._database = database
        self._crm = crm
        self._session_ttl_ms = session_ttl_ms
        self._clock = clock

    def sync_user(self, caller: Principal, credential: str, email: str, name: str, provider: str,
                  oauth_id: str) -> SignIn:
        """Creates or updates the portal user of an OAuth login, links its CRM contact, opens a session.

        `caller` is the API key that calls (the frontend's server): the session lives only as long
        as that key. The CRM is asked first, outside the transaction, and briefly: if it does not
        answer, the login goes on and the user keeps the link it had; the next sign-in links it.
        """
        organization_id = caller.organization_id
        email, name, provider, oauth_id = clean_sign_in(email, name, provider, oauth_id)
        try:
            link, linked = self._crm.find_contact(email, credential), True
        except Unavailable:
            link, linked = None, False
        if link and not link.active:
            raise PermissionDenied("the CRM contact of this email is archived: it cannot sign in")
        now = self._clock()

        def sign_in(connection) -> SignIn:
            user, created = self._user_for_login(connection, organization_id, email, provider, oauth_id, now)
            check_may_sign_in(user)
            user.email, user.oauth_provider, user.oauth_id = email, provider, oauth_id
            user.display_name = name or user.display_name or email
            user.last_login = user.updated_at = now
            if linked:
                user.crm_contact_id = link.contact_id if link else None
                user.crm_organization_id = link.crm_organization_id if link else None
            values = {f: getattr(user, f) for f in _USER_FIELDS} | {"email_key": user.email_key}
            if created:
                connection.execute(portal_users.insert().values(**values))
                connection.execute(portal_identities.insert().values(
                    organization_id=organization_id, provider=provider, oauth_id=oauth_id, user_id=user.id))
            else:
                connection.execute(portal_users.update().where(portal_users.c.id == user.id).values(**values))
            token = generate_credential(SESSION_PREFIX)
            expires_at = now + self._session_ttl_ms
            connection.execute(portal_sessions.insert().values(
                id=new_id("ses"), user_id=user.id, token_hash=token.hash, created_at=now, expires_at=expires_at,
                api_key_id=caller.credential_id))
            self._end_sessions_past_the_limit(connection, user.id, now)
            return SignIn(user, created, token.secret, expires_at)
        return self._database.run_write(sign_in)

    def _user_for_login(self, connection, organization_id, email, provider, oauth_id, now) -> tuple[PortalUser, bool]:
        """The user this login belongs to (locked for update), or a new one; refuses conflicts."""
        by_email = self._user(connection, portal_users.c.email_key == email.lower(), organization_id)
        user_id = connection.execute(sa.select(portal_identities.c.user_id).where(
            portal_identities.c.organization_id == organization_id, portal_identities.c.provider == provider,
            portal_identities.c.oauth_id == oauth_id)).scalar()
        if user_id:  # a known provider account: the same user, even if its email changed
            if by_email and by_email.id != user_id:
                raise Conflict(f"{email} belongs to another portal user", field="email")
            return self._user(connection, portal_users.c.id == user_id, organization_id), False
        if by_email:
            raise identity_conflict(email)
        user = PortalUser(id=new_id("pu"), organization_id=organization_id, email=email, display_name="",
                          oauth_provider=provider, oauth_id=oauth_id, created_at=now)
        return user, True

    @staticmethod
    def _user(connection, condition, organization_id: str, lock: bool = True) -> PortalUser | None:
        query = sa.select(*[portal_users.c[f] for f in _USER_FIELDS]).where(
            condition, portal_users.c.organization_id == organization_id)
        row = connection.execute(query.with_for_update() if lock else query).first()
        return PortalUser(**row._mapping) if row else None

    def current_user(self, principal: Principal) -> PortalUser:
        with self._database.read() as connection:
            user = self._user(connection, portal_users.c.id == principal.portal_user_id, principal.organization_id,
                              lock=False)
        if user is None:
            raise NotFound("portal user not found")
        return user

    def logout(self, principal: Principal) -> None:
        with self._database.write() as connection:
            connection.execute(portal_sessions.update().where(
                portal_sessions.c.id == principal.credential_id, portal_sessions.c.revoked_at.is_(None))
                .values(revoked_at=self._clock()))
            connection.commit()

    # Administration by the organization (API keys)

    def list_users(self, organization_id: str, status: str, limit: int, offset: int) -> tuple[list[PortalUser], int]:
        """A page of the organization's portal users, newest first, and how many there are."""
        conditions = [portal_users.c.organization_id == organization_id]
        if status:
            conditions.append(portal_users.c.status == check_choice(status, STATUSES, "status"))
        with self._database.read() as connection:
            rows = connection.execute(
                sa.select(*[portal_users.c[f] for f in _USER_FIELDS]).where(*conditions)
                .order_by(portal_users.c.created_at.desc(), portal_users.c.id.desc()).limit(limit).offset(offset))
            total = connection.execute(sa.select(sa.func.count()).select_from(portal_users).where(*conditions))
            return [PortalUser(**row._mapping) for row in rows], total.scalar()

    def get_user(self, organization_id: str, user_id: str) -> PortalUser:
        with self._database.read() as connection:
            return self._existing(connection, organization_id, user_id, lock=False)

    def set_status(self, organization_id: str, user_id: str, status: str) -> PortalUser:
        """Enables or disables a portal user. A disabled user's sessions stop resolving at once (and in
        the services' credential caches within their window); its sign-ins answer 403."""
        status = check_choice(status, STATUSES, "status")

        def change(connection) -> PortalUser:
            user = self._existing(connection, organization_id, user_id)
            if user.status != status:
                user.status, user.updated_at = status, self._clock()
                connection.execute(portal_users.update().where(portal_users.c.id == user.id)
                                   .values(status=user.status, updated_at=user.updated_at))
            return user
        return self._database.run_write(change)

    def end_sessions(self, organization_id: str, user_id: str) -> int:
        """Ends every live session of the user; returns how many there were."""
        def end(connection) -> int:
            user = self._existing(connection, organization_id, user_id)
            return connection.execute(portal_sessions.update().where(
                portal_sessions.c.user_id == user.id, portal_sessions.c.revoked_at.is_(None),
                portal_sessions.c.expires_at > self._clock()).values(revoked_at=self._clock())).rowcount
        return self._database.run_write(end)

    def purge_sessions(self) -> int:
        """Deletes expired and ended sessions: they can never be used again."""
        with self._database.write() as connection:
            purged = connection.execute(portal_sessions.delete().where(sa.or_(
                portal_sessions.c.expires_at <= self._clock(), portal_sessions.c.revoked_at.is_not(None)))).rowcount
            connection.commit()
        return purged

    def _existing(self, connection, organization_id: str, user_id: str, lock: bool = True) -> PortalUser:
        user = self._user(connection, portal_users.c.id == user_id, organization_id, lock=lock)
        if user is None:
            raise NotFound(f"portal user {user_id} not found")
        return user

    @staticmethod
    def _end_sessions_past_the_limit(connection, user_id: str, now: int) -> None:
        """Keeps the newest MAX_LIVE_SESSIONS live sessions of the user; older ones end now."""
        oldest = connection.execute(
            sa.select(portal_sessions.c.id).where(portal_sessions.c.user_id == user_id,
                                                  portal_sessions.c.revoked_at.is_(None),
                                                  portal_sessions.c.expires_at > now)
            .order_by(portal_sessions.c.created_at.desc(), portal_sessions.c.id.desc())
            .offset(MAX_LIVE_SESSIONS)).scalars().all()
        if oldest:
            connection.execute(portal_sessions.update().where(portal_sessions.c.id.in_(oldest))
                               .values(revoked_at=now))
