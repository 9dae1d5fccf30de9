"""Use cases of organizations (their profile included) and API keys, for the `portal` command and
the organization endpoints; one unit of work each."""

from typing import Callable

from auth.domain.accounts import (
    DEMO_ORGANIZATION_NAME,
    ApiKey,
    Organization,
    ProfileChanges,
    clean_organization_name,
)
from auth.domain.credentials import API_KEY_PREFIX, generate_credential
from auth.service_layer.unit_of_work import AuthUnitOfWork
from portal_common.clock import now_ms
from portal_common.domain_errors import NotFound
from portal_common.ids import new_id


class Accounts:
    def __init__(self, uow: Callable[..., AuthUnitOfWork], clock: Callable[[], int] = now_ms):
        self._uow = uow
        self._clock = clock

    def create_organization(self, name: str) -> tuple[str, str]:
        """Creates an organization with a first API key; returns (organization id, key secret)."""
        now = self._clock()
        organization = Organization(
            id=new_id("org"), name=clean_organization_name(name), created_at=now, updated_at=now
        )
        with self._uow() as uow:
            uow.organizations.add(organization)
            secret = self._add_key(uow, organization.id)
            uow.commit()
        return organization.id, secret

    def ensure_demo_organization(self) -> tuple[str, str] | None:
        """Creates the demo organization when there is no organization at all, else None."""
        with self._uow(read_only=True) as uow:
            if uow.organizations.any():
                return None
        return self.create_organization(DEMO_ORGANIZATION_NAME)

    def organization(self, organization_id: str) -> Organization:
        """The organization and its profile."""
        with self._uow(read_only=True) as uow:
            return self._found(uow, organization_id)

    def update_organization(self, organization_id: str, changes: ProfileChanges) -> Organization:
        with self._uow() as uow:
            organization = self._found(uow, organization_id)
            organization.apply(changes, self._clock())
            uow.organizations.save(organization)
            uow.commit()
        return organization

    def create_api_key(self, organization_id: str) -> str:
        """A new API key of the organization; returns its secret, which is shown only this once."""
        with self._uow() as uow:
            self._require_organization(uow, organization_id)
            secret = self._add_key(uow, organization_id)
            uow.commit()
        return secret

    def list_api_keys(self, organization_id: str) -> list[ApiKey]:
        with self._uow(read_only=True) as uow:
            self._require_organization(uow, organization_id)
            return uow.api_keys.of_organization(organization_id)

    def revoke_api_key(self, key_id: str) -> ApiKey:
        """Revokes the key (idempotent)."""
        with self._uow() as uow:
            key = uow.api_keys.get(key_id)
            if key is None:
                raise NotFound(f"API key {key_id} not found")
            key.revoke(self._clock())
            uow.api_keys.record_revocation(key)
            uow.commit()
        return key

    @staticmethod
    def _found(uow, organization_id: str) -> Organization:
        organization = uow.organizations.get(organization_id)
        if organization is None:
            raise NotFound(f"organization {organization_id} not found")
        return organization

    @staticmethod
    def _require_organization(uow, organization_id: str) -> None:
        if not uow.organizations.exists(organization_id):
            raise NotFound(f"organization {organization_id} not found")

    def _add_key(self, uow, organization_id: str) -> str:
        credential = generate_credential(API_KEY_PREFIX)
        key = ApiKey(
            id=new_id("key"), organization_id=organization_id, prefix=credential.prefix, created_at=self._clock()
        )
        uow.api_keys.add(key, credential.hash)
        return credential.secret
