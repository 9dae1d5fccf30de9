"""The api mapping: JSON bodies into domain commands, with the paths clients wrote."""

import pytest
from google.protobuf import struct_pb2

from crm.api import mapping
from portal_common.domain_errors import InvalidArgument


def struct(**body) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(body)
    return message


def test_a_patch_becomes_the_changes_given_with_null_kept():
    changes = mapping.contact_changes(struct(jobTitle="CTO", phone=None, crmOrganizationId="co_1", tags=["a"]))

    assert sorted(changes.given) == ["crm_organization_id", "job_title", "phone", "tags"]
    assert (changes.job_title, changes.phone, changes.crm_organization_id, changes.tags) == ("CTO", None, "co_1", ["a"])


@pytest.mark.parametrize(
    "body, field, message",
    [
        (
            {"notes": "x", "Notes": "y"},
            "Notes",
            "unknown field 'Notes'; updatable fields are company, crmOrganizationId, "
            "customFields, email, firstName, jobTitle, lastName, notes, phone, "
            "portalAccess, source, sourceRef, status, subtype, tags",
        ),
        ({"firstName": 5}, "firstName", "firstName must be a string"),
        ({"tags": "vip"}, "tags", "tags must be a list of strings"),
        ({"customFields": [1]}, "customFields", "customFields must be an object"),
    ],
)
def test_a_patch_of_unknown_fields_or_wrong_json_types_is_refused_by_json_name(body, field, message):
    with pytest.raises(InvalidArgument) as raised:
        mapping.contact_changes(struct(**body))
    assert (raised.value.field, raised.value.message) == (field, message)


def test_upsert_details_record_where_each_field_was_in_either_body_shape():
    details, organization = mapping.upsert_command(struct(email="a@x.io", organizationInfo={"name": "Acme"}))
    event, attendee, _ = mapping.registration_command(
        struct(eventId="e", eventName="E", eventDate=1, attendeeInfo={"email": "a@x.io"})
    )

    assert (details.path("first_name"), details.path("custom_fields")) == ("firstName", "customFields")
    assert (attendee.path("first_name"), attendee.email) == ("attendeeInfo.firstName", "a@x.io")
    assert (organization.name, organization.path("postal_code")) == ("Acme", "organizationInfo.address.postalCode")
    assert (event.path("event_date"), event.event_date) == ("eventDate", 1)
