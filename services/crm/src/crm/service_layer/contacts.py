"""CRM use cases: one unit of work (transaction) each, committed explicitly."""
import dataclasses
from typing import Callable, TypeVar

from crm.adapters import views
from crm.adapters.repository import CrmRepository
from crm.adapters.views import ContactFilter, contact_message
from crm.domain.model import (
    ACTIVE, INACTIVE, MAX_TEXT, PORTAL_ACCESS, STATUSES, SUBTYPES, Contact, CrmOrganization, EventRegistration,
    check_custom_fields, check_timestamp, clean_tags, email_key, merge_tags, website_key,
)
from portal.crm.v1 import crm_pb2
from portal_common.auth import Principal
from portal_common.clock import now_ms
from portal_common.db import Database
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.ids import new_id
from portal_common.validation import check_choice, clean_email, clean_text, shown

T = TypeVar("T")


@dataclasses.dataclass
class ContactDetails:
    """Contact fields given by a request; None (or empty tags) means "not given"."""
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    job_title: str | None = None
    subtype: str | None = None
    source: str | None = None
    source_ref: str | None = None
    notes: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    custom_fields: dict | None = None


@dataclasses.dataclass
class OrganizationDetails:
    name: str | None = None
    website: str | None = None
    industry: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    tax_id: str | None = None
    billing_email: str | None = None
    phone: str | None = None


@dataclasses.dataclass(frozen=True)
class EventDetails:
    event_id: str
    event_name: str
    event_date: float


@dataclasses.dataclass(frozen=True)
class UpsertResult:
    contact: Contact
    created: bool
    # organizationInfo was given for an existing contact, whose CRM organization an upsert never
    # changes (public sign-up and event forms call it): said in the answer, not dropped silently.
    organization_ignored: bool = False


# PATCH body fields (camelCase, as in the REST API) and the contact attributes they set.
_PATCHABLE = {
    "firstName": "first_name", "lastName": "last_name", "email": "email", "phone": "phone",
    "company": "company", "jobTitle": "job_title", "subtype": "subtype", "status": "status",
    "source": "source", "sourceRef": "source_ref", "tags": "tags", "notes": "notes",
    "customFields": "custom_fields", "crmOrganizationId": "crm_organization_id", "portalAccess": "portal_access",
}
_REQUIRED_ON_PATCH = {"email", "subtype", "status", "source", "portalAccess"}


def _clean_details(details: ContactDetails, prefix: str = "") -> ContactDetails:
    if details.email is None or not details.email.strip():
        raise InvalidArgument(f"{prefix}email is required", field=f"{prefix}email")
    cleaned = ContactDetails(
        email=clean_email(details.email, f"{prefix}email"),
        first_name=clean_text(details.first_name, f"{prefix}firstName"),
        last_name=clean_text(details.last_name, f"{prefix}lastName"),
        phone=clean_text(details.phone, f"{prefix}phone"),
        company=clean_text(details.company, f"{prefix}company"),
        job_title=clean_text(details.job_title, f"{prefix}jobTitle"),
        source=clean_text(details.source, "source"),
        source_ref=clean_text(details.source_ref, "sourceRef"),
        notes=clean_text(details.notes, "notes", MAX_TEXT),
        tags=clean_tags(details.tags, f"{prefix}tags"),
        custom_fields=None if details.custom_fields is None else check_custom_fields(details.custom_fields),
    )
    if details.subtype is not None:
        cleaned.subtype = check_choice(details.subtype.strip(), SUBTYPES, "subtype")
    return cleaned


def _clean_organization(details: OrganizationDetails) -> OrganizationDetails:
    field = "organizationInfo.{}".format
    cleaned = OrganizationDetails(
        name=clean_text(details.name, field("name")),
        website=clean_text(details.website, field("website")),
        industry=clean_text(details.industry, field("industry")),
        street=clean_text(details.street, field("address.street")),
        city=clean_text(details.city, field("address.city")),
        state=clean_text(details.state, field("address.state")),
        postal_code=clean_text(details.postal_code, field("address.postalCode")),
        country=clean_text(details.country, field("address.country")),
        tax_id=clean_text(details.tax_id, field("taxId")),
        phone=clean_text(details.phone, field("phone")),
    )
    if details.billing_email and details.billing_email.strip():
        cleaned.billing_email = clean_email(details.billing_email, field("billingEmail"))
    if not cleaned.name and not website_key(cleaned.website):
        raise InvalidArgument(f"{field('name')} or {field('website')} is required", field=field("name"))
    return cleaned


def _apply_details(contact: Contact, details: ContactDetails) -> None:
    """Given fields overwrite; tags and custom fields are merged into what the contact has."""
    for name in ("first_name", "last_name", "phone", "company", "job_title", "subtype", "source",
                 "source_ref", "notes"):
        value = getattr(details, name)
        if value is not None:
            setattr(contact, name, value)
    contact.email = details.email
    contact.tags = merge_tags(contact.tags, details.tags)
    if details.custom_fields:
        contact.custom_fields = check_custom_fields({**contact.custom_fields, **details.custom_fields})


class CrmService:
    def __init__(self, database: Database):
        self._database = database

    # Writes

    def upsert_contact(self, organization_id: str, details: ContactDetails,
                       organization: OrganizationDetails | None) -> UpsertResult:
        details = _clean_details(details)
        organization = _clean_organization(organization) if organization else None

        def upsert(repo: CrmRepository) -> UpsertResult:
            return self._upsert(repo, organization_id, details, organization, None)
        return self._write(upsert)

    def register_attendee(self, organization_id: str, event: EventDetails, details: ContactDetails,
                          organization: OrganizationDetails | None) -> UpsertResult:
        event_id = clean_text(event.event_id, "eventId")
        event_name = clean_text(event.event_name, "eventName")
        if not event_id:
            raise InvalidArgument("eventId is required", field="eventId")
        if not event_name:
            raise InvalidArgument("eventName is required", field="eventName")
        details = _clean_details(dataclasses.replace(details, source="event", source_ref=event_id), "attendeeInfo.")
        organization = _clean_organization(organization) if organization else None
        event_date = check_timestamp(event.event_date, "eventDate")
        registration = EventRegistration(event_id, event_name, event_date, now_ms())

        def upsert(repo: CrmRepository) -> UpsertResult:
            return self._upsert(repo, organization_id, details, organization, registration)
        return self._write(upsert)

    def _upsert(self, repo, organization_id, details, organization, registration) -> UpsertResult:
        now = now_ms()
        contact = repo.contact_by_email(organization_id, email_key(details.email))
        created = contact is None
        if created:
            contact = Contact(id=new_id("ct"), organization_id=organization_id, email=details.email,
                              created_at=now)
            counted_as = None
        else:
            counted_as = contact.count_key
            if registration:  # an existing contact keeps where it first came from
                details = dataclasses.replace(details, source=None, source_ref=None)
        _apply_details(contact, details)
        if organization and created:
            contact.crm_organization_id = self._organization_for(repo, organization_id, organization)
        if registration:
            contact.register_for_event(registration)
        contact.updated_at = now
        if created:
            repo.add_contact(contact)
        else:
            repo.save_contact(contact, counted_as)
        ignored = False
        if organization and not created:  # not applied, unless it names the organization it already has
            matching = self._matching_organization(repo, organization_id, organization)
            ignored = matching is None or matching != contact.crm_organization_id
        return UpsertResult(contact, created, organization_ignored=ignored)

    @staticmethod
    def _matching_organization(repo: CrmRepository, organization_id: str, details: OrganizationDetails) -> str | None:
        found = repo.crm_organization_matching(
            organization_id, details.name.lower() if details.name else None, website_key(details.website))
        return found.id if found else None

    @staticmethod
    def _organization_for(repo: CrmRepository, organization_id: str, details: OrganizationDetails) -> str:
        """The id of the CRM organization with this name or website, else of a new one. An existing
        organization is never changed: anyone who can fill in a public form could otherwise edit it."""
        found = CrmService._matching_organization(repo, organization_id, details)
        if found:
            return found
        fields = dataclasses.asdict(details)
        now = now_ms()
        name = details.name or details.website
        organization = CrmOrganization(id=new_id("co"), organization_id=organization_id,
                                       name=name, created_at=now, updated_at=now)
        organization.fill_in(fields)
        repo.add_crm_organization(organization)
        return organization.id

    def update_contact(self, organization_id: str, contact_id: str, changes: dict) -> Contact:
        unknown = sorted(set(changes) - set(_PATCHABLE))
        if unknown:
            raise InvalidArgument(f"unknown field {shown(unknown[0])}; updatable fields are "
                                  f"{', '.join(sorted(_PATCHABLE))}", field=unknown[0])

        def update(repo: CrmRepository) -> Contact:
            contact = self._contact(repo, organization_id, contact_id)
            counted_as, original_email = contact.count_key, contact.email_key
            values = {key: self._patch_value(repo, organization_id, key, value) for key, value in changes.items()}
            if "crmOrganizationId" in values:
                contact.move_to(values.pop("crmOrganizationId"))
            if "portalAccess" in values:
                contact.grant_portal_access(values.pop("portalAccess"))
            for key, value in values.items():
                setattr(contact, _PATCHABLE[key], value)
            if contact.email_key != original_email:
                other = repo.contact_by_email(organization_id, contact.email_key)
                if other and other.id != contact.id:
                    raise Conflict(f"another contact ({other.id}) already has the email {contact.email}",
                                   field="email")
            contact.updated_at = now_ms()
            repo.save_contact(contact, counted_as)
            return contact
        return self._write(update)

    @staticmethod
    def _patch_value(repo: CrmRepository, organization_id: str, key: str, value):
        if value is None:
            if key in _REQUIRED_ON_PATCH:
                raise InvalidArgument(f"{key} cannot be null", field=key)
            return [] if key == "tags" else {} if key == "customFields" else "" if key in (
                "firstName", "lastName") else None
        if key == "tags":
            if not isinstance(value, list):
                raise InvalidArgument("tags must be a list of strings", field=key)
            return clean_tags(value)
        if key == "customFields":
            return check_custom_fields(value)
        if not isinstance(value, str):
            raise InvalidArgument(f"{key} must be a string", field=key)
        if key == "email":
            return clean_email(value, key)
        if key == "subtype":
            return check_choice(value.strip(), SUBTYPES, key)
        if key == "status":
            return check_choice(value.strip(), STATUSES, key)
        if key == "portalAccess":
            return check_choice(value.strip(), PORTAL_ACCESS, key)
        if key == "crmOrganizationId":
            if not repo.crm_organization(organization_id, value):
                raise InvalidArgument(f"crmOrganizationId {shown(value)} is not a CRM organization of yours",
                                      field=key)
            return value
        text = clean_text(value, key, MAX_TEXT if key == "notes" else 200)
        if key == "source" and not text:
            raise InvalidArgument("source cannot be empty", field=key)
        return text or ("" if key in ("firstName", "lastName") else None)

    def archive_contact(self, organization_id: str, contact_id: str) -> Contact:
        def archive(repo: CrmRepository) -> Contact:
            contact = self._contact(repo, organization_id, contact_id)
            if contact.status != INACTIVE:
                counted_as = contact.count_key
                contact.status = INACTIVE
                contact.updated_at = now_ms()
                repo.save_contact(contact, counted_as)
            return contact
        return self._write(archive)

    # Reads

    def get_contact(self, principal: Principal, contact_id: str) -> crm_pb2.Contact:
        """A contact of the principal's organization; a portal user sees only their own, and only
        what a customer may see of it (views.customer_facing)."""
        view = None
        if not principal.is_portal_user or contact_id == principal.crm_contact_id:
            with self._database.hot() as connection:
                view = views.contact_view(connection, principal.organization_id, contact_id)
        if view is None:
            raise NotFound(f"contact {contact_id} not found")
        return views.customer_facing(view) if principal.is_portal_user else view

    def find_contact_by_email(self, organization_id: str, email: str) -> crm_pb2.Contact:
        """The contact with this email, archived or not (its status says which)."""
        with self._database.read() as connection:
            contact = CrmRepository(connection).contact_by_email(organization_id, email_key(email))
        if contact is None:
            raise NotFound("no contact has this email")
        return contact_message(contact)

    def portal_access(self, organization_id: str, contact_id: str) -> Contact:
        """The contact as a portal session needs it now: status, CRM organization and grant."""
        with self._database.read() as connection:
            return self._contact(CrmRepository(connection), organization_id, contact_id)

    def list_contacts(self, organization_id: str, where: ContactFilter, limit: int, offset: int
                      ) -> crm_pb2.ListContactsResponse:
        where = dataclasses.replace(where, status=where.status or ACTIVE)
        check_choice(where.status, STATUSES, "status")
        if where.subtype:
            check_choice(where.subtype, SUBTYPES, "subtype")
        if where.crm_organization_id:
            self.get_crm_organization(organization_id, where.crm_organization_id)  # 404 if not theirs
        with self._database.hot() as connection:
            return views.contact_page(connection, organization_id, where, limit, offset)

    def get_crm_organization(self, organization_id: str, crm_organization_id: str) -> CrmOrganization:
        with self._database.read() as connection:
            found = CrmRepository(connection).crm_organization(organization_id, crm_organization_id)
        if not found:
            raise NotFound(f"CRM organization {crm_organization_id} not found")
        return found

    def list_crm_organizations(self, organization_id: str, industry: str, search: str, limit: int, offset: int):
        with self._database.read() as connection:
            return CrmRepository(connection).list_crm_organizations(organization_id, industry, search, limit, offset)

    # Helpers

    @staticmethod
    def _contact(repo: CrmRepository, organization_id: str, contact_id: str) -> Contact:
        contact = repo.contact(organization_id, contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} not found")
        return contact

    def _write(self, work: Callable[[CrmRepository], T]) -> T:
        return self._database.run_write(lambda connection: work(CrmRepository(connection, locking=True)))
