"""Who presents a bearer credential: the answer behind every service's credential cache."""
import dataclasses
from typing import Callable, Protocol

import sqlalchemy as sa

from auth.adapters.crm_client import ContactAccess
from auth.adapters.tables import api_keys, portal_sessions, portal_users
from auth.domain.portal_users import ACTIVE
from portal_common.auth import API_KEY, PORTAL_USER, Principal
from portal_common.clock import now_ms
from portal_common.db import Database


# "Last used" is kept to the minute: recording every use would make each lookup a write.
LAST_USED_PRECISION_MS = 60_000


class ContactAccessSource(Protocol):
    def contact_access(self, organization_id: str, contact_id: str) -> ContactAccess | None: ...


class Credentials:
    def __init__(self, database: Database, crm: ContactAccessSource, clock: Callable[[], int] = now_ms):
        self._database = database
        self._crm = crm
        self._clock = clock

    def resolve(self, credential_hash: str) -> Principal | None:
        """The principal of a live API key or portal session; None if unknown, revoked or expired."""
        now = self._clock()
        with self._database.read() as connection:
            key = connection.execute(
                sa.select(api_keys.c.id, api_keys.c.organization_id, api_keys.c.last_used_at)
                .where(api_keys.c.key_hash == credential_hash, api_keys.c.revoked_at.is_(None))).first()
            # A session is live while it is neither ended nor expired, its user is active, and the
            # API key that opened it (none for sessions older than that record) is not revoked.
            session = None if key else connection.execute(
                sa.select(portal_sessions.c.id.label("session_id"), portal_sessions.c.expires_at,
                          portal_users.c.id.label("user_id"), portal_users.c.organization_id,
                          portal_users.c.crm_contact_id, portal_users.c.crm_organization_id)
                .join(portal_users, portal_users.c.id == portal_sessions.c.user_id)
                .outerjoin(api_keys, api_keys.c.id == portal_sessions.c.api_key_id)
                .where(portal_sessions.c.token_hash == credential_hash, portal_sessions.c.revoked_at.is_(None),
                       portal_sessions.c.expires_at > now, portal_users.c.status == ACTIVE,
                       api_keys.c.revoked_at.is_(None))).first()
        if key:
            if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION_MS:
                self._record_use(key.id, now)
            return Principal(kind=API_KEY, organization_id=key.organization_id, credential_id=key.id)
        if session is None:
            return None
        principal = Principal(kind=PORTAL_USER, organization_id=session.organization_id,
                              credential_id=session.session_id, portal_user_id=session.user_id,
                              expires_at=session.expires_at)
        if not session.crm_contact_id:
            return principal  # linked to no contact: sees nothing but itself
        # What the session may see follows its contact as the CRM has it now: archived, it sees
        # nothing; moved, it follows; its organization's records only while granted.
        access = self._crm.contact_access(session.organization_id, session.crm_contact_id)
        if access is None or not access.active:
            return None
        return dataclasses.replace(principal, crm_contact_id=session.crm_contact_id,
                                   crm_organization_id=access.crm_organization_id if access.organization_access else "")

    def _record_use(self, key_id: str, now: int) -> None:
        with self._database.write() as connection:
            connection.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now))
            connection.commit()
