"""Who presents a bearer credential: the answer behind every service's credential cache."""
from typing import Callable

import sqlalchemy as sa

from auth.adapters.tables import api_keys, portal_sessions, portal_users
from auth.domain.portal_users import ACTIVE
from portal_common.auth import API_KEY, PORTAL_USER, Principal
from portal_common.clock import now_ms
from portal_common.db import Database


# "Last used" is kept to the minute: recording every use would make each lookup a write.
LAST_USED_PRECISION_MS = 60_000


class Credentials:
    def __init__(self, database: Database, clock: Callable[[], int] = now_ms):
        self._database = database
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
        return Principal(kind=PORTAL_USER, organization_id=session.organization_id, credential_id=session.session_id,
                         portal_user_id=session.user_id, crm_contact_id=session.crm_contact_id or "",
                         crm_organization_id=session.crm_organization_id or "", expires_at=session.expires_at)

    def _record_use(self, key_id: str, now: int) -> None:
        with self._database.write() as connection:
            connection.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now))
            connection.commit()
