"""CRM use cases (the writes): each runs in one unit of work, committed explicitly, and returns domain
objects. Reads go through queries.py. Each records the events of what it changed in its unit of
work (docs/events.md); a write that changes nothing records none."""

import copy
import dataclasses
from typing import Callable

from crm.domain.commands import ContactChanges, ContactDetails, EventDetails, OrganizationDetails
from crm.domain.model import (
    INACTIVE,
    Contact,
    CrmOrganization,
    EventRegistration,
    clean_details,
    clean_organization,
    email_key,
    website_key,
)
from crm.service_layer.unit_of_work import CrmUnitOfWork
from portal_common.clock import now_ms
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.ids import new_id
from portal_common.outbox import changed
from portal_common.timestamps import check_timestamp
from portal_common.uow import retry_race
from portal_common.validation import clean_text, shown


@dataclasses.dataclass(frozen=True)
class UpsertResult:
    contact: Contact
    created: bool
    # Organization details were given for an existing contact, whose CRM organization an upsert never
    # changes (public sign-up and event forms call it): said in the answer, not dropped silently.
    organization_ignored: bool = False


class CrmService:
    def __init__(self, uow: Callable[[], CrmUnitOfWork], clock: Callable[[], int] = now_ms):
        self._uow = uow  # a new unit of work per call
        self._clock = clock

    def upsert_contact(
        self, organization_id: str, details: ContactDetails, organization: OrganizationDetails | None
    ) -> UpsertResult:
        details = clean_details(details)
        organization = clean_organization(organization) if organization else None
        # The first upserts of one email race on its unique key: the second run finds the winner's contact.
        return retry_race(lambda: self._upsert(organization_id, details, organization, None))

    def register_attendee(
        self,
        organization_id: str,
        event: EventDetails,
        details: ContactDetails,
        organization: OrganizationDetails | None,
    ) -> UpsertResult:
        event_id = clean_text(event.event_id, event.path("event_id"))
        event_name = clean_text(event.event_name, event.path("event_name"))
        if not event_id:
            raise InvalidArgument(f"{event.path('event_id')} is required", field=event.path("event_id"))
        if not event_name:
            raise InvalidArgument(f"{event.path('event_name')} is required", field=event.path("event_name"))
        details = clean_details(dataclasses.replace(details, source="event", source_ref=event_id))
        organization = clean_organization(organization) if organization else None
        event_date = check_timestamp(event.event_date, event.path("event_date"))
        registration = EventRegistration(event_id, event_name, event_date, self._clock())
        return retry_race(lambda: self._upsert(organization_id, details, organization, registration))

    def _upsert(
        self,
        organization_id: str,
        details: ContactDetails,
        organization: OrganizationDetails | None,
        registration: EventRegistration | None,
    ) -> UpsertResult:
        with self._uow() as uow:
            now = self._clock()
            contact = uow.contacts.by_email(organization_id, email_key(details.email))
            before = copy.deepcopy(contact)
            created = contact is None
            if contact is None:
                contact = Contact(id=new_id("ct"), organization_id=organization_id, email=details.email, created_at=now)
            elif registration:  # an existing contact keeps where it first came from
                details = dataclasses.replace(details, source=None, source_ref=None)
            contact.merge(details)
            if organization and created:
                contact.crm_organization_id = self._organization_for(uow, organization_id, organization, now)
            if registration:
                contact.register_for_event(registration)
            contact.updated_at = now
            if created:
                uow.contacts.add(contact)
                uow.events.add("contact.created", organization_id, contact)
            else:
                uow.contacts.save(contact)
                if changed(before, contact):
                    uow.events.add("contact.updated", organization_id, contact)
            ignored = False
            if organization and not created:  # not applied, unless it names the organization it already has
                matching = self._matching(uow, organization_id, organization)
                ignored = matching is None or matching.id != contact.crm_organization_id
            uow.commit()
        return UpsertResult(contact, created, organization_ignored=ignored)

    @staticmethod
    def _matching(uow: CrmUnitOfWork, organization_id: str, details: OrganizationDetails) -> CrmOrganization | None:
        return uow.organizations.matching(
            organization_id, details.name.lower() if details.name else None, website_key(details.website)
        )

    def _organization_for(
        self, uow: CrmUnitOfWork, organization_id: str, details: OrganizationDetails, now: int
    ) -> str:
        """The id of the CRM organization with this name or website, else of a new one. An existing
        organization is never changed: anyone who can fill in a public form could otherwise edit it."""
        found = self._matching(uow, organization_id, details)
        if found:
            return found.id
        name = details.name or details.website
        assert name, "clean_organization requires a name or a website"
        organization = CrmOrganization(
            id=new_id("co"), organization_id=organization_id, name=name, created_at=now, updated_at=now
        )
        organization.fill_in(dataclasses.asdict(details))
        uow.organizations.add(organization)
        uow.events.add("crm_organization.created", organization_id, organization)
        return organization.id

    def update_contact(self, organization_id: str, contact_id: str, changes: ContactChanges) -> Contact:
        # A new email races with an upsert of it on the email's unique key: the second run answers 409.
        return retry_race(lambda: self._update(organization_id, contact_id, changes))

    def _update(self, organization_id: str, contact_id: str, changes: ContactChanges) -> Contact:
        with self._uow() as uow:
            contact = self._contact(uow, organization_id, contact_id)
            before = copy.deepcopy(contact)
            original_email = contact.email_key
            moved_to = changes.crm_organization_id  # None when not given, or given to unlink the contact
            if moved_to is not None and not uow.organizations.get(organization_id, moved_to):
                raise InvalidArgument(
                    f"crm_organization_id {shown(moved_to)} is not a CRM organization of yours",
                    field="crm_organization_id",
                )
            contact.apply(changes)
            if contact.email_key != original_email:
                other = uow.contacts.by_email(organization_id, contact.email_key)
                if other and other.id != contact.id:
                    raise Conflict(f"another contact ({other.id}) already has the email {contact.email}", field="email")
            contact.updated_at = self._clock()
            uow.contacts.save(contact)
            if changed(before, contact):
                uow.events.add("contact.updated", organization_id, contact)
            uow.commit()
        return contact

    def archive_contact(self, organization_id: str, contact_id: str) -> Contact:
        """Soft delete (AIP-164): the contact becomes inactive; archiving it again changes nothing."""
        with self._uow() as uow:
            contact = self._contact(uow, organization_id, contact_id)
            if contact.status != INACTIVE:
                contact.status = INACTIVE
                contact.updated_at = self._clock()
                uow.contacts.save(contact)
                uow.events.add("contact.archived", organization_id, contact)
                uow.commit()
        return contact

    @staticmethod
    def _contact(uow: CrmUnitOfWork, organization_id: str, contact_id: str) -> Contact:
        contact = uow.contacts.get(organization_id, contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} not found")
        return contact
