"""Sign-in of portal users, their sessions and their administration; one unit of work each."""

import dataclasses
from typing import Callable, Protocol

from auth.domain.credentials import SESSION_PREFIX, generate_credential
from auth.domain.portal_users import (
    MAX_LIVE_SESSIONS,
    STATUSES,
    ContactLink,
    OAuthLogin,
    PortalSession,
    PortalUser,
    PortalUserChanges,
    clean_login,
    login_owner,
)
from auth.service_layer.unit_of_work import AuthUnitOfWork
from portal_common.clock import now_ms
from portal_common.domain_errors import NotFound, PermissionDenied, Unavailable
from portal_common.ids import new_id
from portal_common.principal import Principal
from portal_common.uow import retry_race
from portal_common.validation import check_choice


class ContactFinder(Protocol):
    def find_contact(self, email: str, credential: str) -> ContactLink | None: ...


@dataclasses.dataclass(frozen=True)
class SignIn:
    user: PortalUser
    created: bool
    session_token: str
    expires_at: int


class PortalUsers:
    def __init__(
        self,
        uow: Callable[..., AuthUnitOfWork],
        crm: ContactFinder,
        session_ttl_ms: int,
        clock: Callable[[], int] = now_ms,
    ):
        self._uow = uow
        self._crm = crm
        self._session_ttl_ms = session_ttl_ms
        self._clock = clock

    def sync_user(self, caller: Principal, credential: str, login: OAuthLogin) -> SignIn:
        """Creates or updates the portal user of an OAuth login, links its CRM contact, opens a session.

        `caller` is the API key that calls (the frontend's server): the session lives only as long
        as that key. The CRM is asked first, outside the transaction, and briefly: if it does not
        answer, the login goes on and the user keeps the link it had; the next sign-in links it.
        """
        login = clean_login(login)
        try:
            link, linked = self._crm.find_contact(login.email, credential), True
        except Unavailable:
            link, linked = None, False
        if link and not link.active:
            raise PermissionDenied("the CRM contact of this email is archived: it cannot sign in")
        now = self._clock()

        def sign_in() -> SignIn:
            with self._uow() as uow:
                organization_id = caller.organization_id
                user = login_owner(
                    login,
                    uow.portal_users.with_identity(organization_id, login.oauth_provider, login.oauth_id),
                    uow.portal_users.with_email(organization_id, login.email),
                )
                created = user is None
                if user is None:
                    user = PortalUser(
                        id=new_id("pu"),
                        organization_id=organization_id,
                        email=login.email,
                        display_name="",
                        oauth_provider=login.oauth_provider,
                        oauth_id=login.oauth_id,
                        created_at=now,
                    )
                user.sign_in(login, now)
                if linked:
                    user.link_contact(link)
                if created:
                    uow.portal_users.add(user)
                    uow.events.add("portal_user.created", organization_id, user)
                else:
                    uow.portal_users.save(user)
                token = generate_credential(SESSION_PREFIX)
                session = PortalSession(
                    id=new_id("ses"),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + self._session_ttl_ms,
                    api_key_id=caller.credential_id,
                )
                uow.sessions.add(session, token.hash)
                uow.sessions.end_live(user.id, now, keeping=MAX_LIVE_SESSIONS)
                uow.commit()
            return SignIn(user, created, token.secret, session.expires_at)

        # Two first sign-ins of one person may race to create the user: the second run finds it.
        return retry_race(sign_in)

    def current_user(self, principal: Principal) -> PortalUser:
        with self._uow(read_only=True) as uow:
            user = uow.portal_users.get(principal.organization_id, principal.portal_user_id)
        if user is None:
            raise NotFound("portal user not found")
        return user

    def logout(self, principal: Principal) -> None:
        with self._uow() as uow:
            uow.sessions.end(principal.credential_id, self._clock())
            uow.commit()

    # Administration by the organization (API keys)

    def list_users(self, organization_id: str, status: str, limit: int, offset: int) -> tuple[list[PortalUser], int]:
        """A page of the organization's portal users (all, or those of `status`), newest first, and
        how many there are."""
        if status:
            check_choice(status, STATUSES, "status")
        with self._uow(read_only=True) as uow:
            return uow.portal_users.page(organization_id, status or None, limit, offset)

    def get_user(self, organization_id: str, user_id: str) -> PortalUser:
        with self._uow(read_only=True) as uow:
            return self._existing(uow, organization_id, user_id)

    def update_user(self, organization_id: str, user_id: str, changes: PortalUserChanges) -> PortalUser:
        """Applies the organization's changes. A disabled user's sessions stop resolving at once (and
        in the services' credential caches within their window); its sign-ins answer 403."""
        with self._uow() as uow:
            user = self._existing(uow, organization_id, user_id)
            if user.apply(changes, self._clock()):
                uow.portal_users.save(user)
                uow.commit()
        return user

    def end_sessions(self, organization_id: str, user_id: str) -> int:
        """Ends every live session of the user; returns how many there were."""
        with self._uow() as uow:
            user = self._existing(uow, organization_id, user_id)
            ended = uow.sessions.end_live(user.id, self._clock())
            uow.commit()
        return ended

    def purge_sessions(self) -> int:
        """Deletes expired and ended sessions: they can never be used again."""
        with self._uow() as uow:
            purged = uow.sessions.purge(self._clock())
            uow.commit()
        return purged

    @staticmethod
    def _existing(uow, organization_id: str, user_id: str) -> PortalUser:
        user = uow.portal_users.get(organization_id, user_id)
        if user is None:
            raise NotFound(f"portal user {user_id} not found")
        return user
