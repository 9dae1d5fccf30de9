"""Sign-in of portal users and their sessions; one transaction per use case."""
import dataclasses
from typing import Callable, Protocol

import sqlalchemy as sa

from auth.adapters.crm_client import ContactLink
from auth.adapters.tables import portal_identities, portal_sessions, portal_users
from auth.domain.credentials import SESSION_PREFIX, generate_credential
from auth.domain.portal_users import PortalUser, check_identity, clean_sign_in
from portal_common.auth import Principal
from portal_common.clock import now_ms
from portal_common.db import Database
from portal_common.errors import Conflict, NotFound, Unavailable
from portal_common.ids import new_id

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

    def sync_user(self, organization_id: str, credential: str, email: str, name: str, provider: str,
                  oauth_id: str) -> SignIn:
        """Creates or updates the portal user of an OAuth login, links its CRM contact, opens a session.

        The CRM is asked first, outside the transaction, and briefly: if it does not answer, the
        login goes on and the user keeps the link it had; the next sign-in links it.
        """
        email, name, provider, oauth_id = clean_sign_in(email, name, provider, oauth_id)
        try:
            link, linked = self._crm.find_contact(email, credential), True
        except Unavailable:
            link, linked = None, False
        now = self._clock()

        def sign_in(connection) -> SignIn:
            user, created = self._user_for_login(connection, organization_id, email, provider, oauth_id, now)
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
                id=new_id("ses"), user_id=user.id, token_hash=token.hash, created_at=now, expires_at=expires_at))
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
            bound = connection.execute(sa.select(portal_identities.c.oauth_id).where(
                portal_identities.c.user_id == by_email.id, portal_identities.c.provider == provider)).scalar()
            check_identity(bound, provider, oauth_id)
            connection.execute(portal_identities.insert().values(
                organization_id=organization_id, provider=provider, oauth_id=oauth_id, user_id=by_email.id))
            return by_email, False
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
