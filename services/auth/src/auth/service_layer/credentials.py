"""Who presents a bearer credential: the answer behind every service's credential cache."""

import dataclasses
from typing import Callable, Protocol

from auth.domain.portal_users import ContactAccess
from auth.service_layer.unit_of_work import AuthUnitOfWork
from portal_common.clock import now_ms
from portal_common.principal import API_KEY, PORTAL_USER, Principal


class ContactAccessSource(Protocol):
    def contact_access(self, organization_id: str, contact_id: str) -> ContactAccess | None: ...


class Credentials:
    def __init__(self, uow: Callable[..., AuthUnitOfWork], crm: ContactAccessSource, clock: Callable[[], int] = now_ms):
        self._uow = uow
        self._crm = crm
        self._clock = clock

    def resolve(self, credential_hash: str) -> Principal | None:
        """The principal of a live API key or portal session; None if unknown, revoked or expired."""
        now = self._clock()
        # On every request's path: one read, and a write only when a key's use is a minute old.
        with self._uow(read_only=True) as uow:
            key = uow.api_keys.live(credential_hash)
            session = None if key else uow.sessions.live(credential_hash, now)
        if key:
            if key.record_use(now):
                with self._uow() as uow:
                    uow.api_keys.record_use(key)
                    uow.commit()
            return Principal(kind=API_KEY, organization_id=key.organization_id, credential_id=key.id)
        if session is None:
            return None
        principal = Principal(
            kind=PORTAL_USER,
            organization_id=session.organization_id,
            credential_id=session.id,
            portal_user_id=session.user_id,
            expires_at=session.expires_at,
        )
        if not session.crm_contact_id:
            return principal  # linked to no contact: sees nothing but itself
        # What the session may see follows its contact as the CRM has it now: archived, it sees
        # nothing; moved, it follows; its organization's records only while granted.
        access = self._crm.contact_access(session.organization_id, session.crm_contact_id)
        if access is None or not access.active:
            return None
        return dataclasses.replace(
            principal,
            crm_contact_id=session.crm_contact_id,
            crm_organization_id=access.crm_organization_id if access.organization_access else "",
        )
