"""Requests refused before any service code runs name the field by the client's JSON path."""

import pytest
from google.protobuf import struct_pb2

from portal.auth.v1 import auth_pb2
from portal_common.errors import _field_with_nul


@pytest.mark.parametrize(
    "body, path",
    [
        ({"status": "a\x00b"}, "status"),
        ({"lineItems": [{"description": "ok"}, {"description": "bad\x00"}]}, "lineItems[1].description"),
        ({"customProperties": {"free": {"deep": ["x", "y\x00"]}}}, "customProperties.free.deep[1]"),
        ({"customFields": {"bad\x00key": 1}}, "customFields"),
        ({"name": "fine", "tags": ["a", "b"], "n": 1, "ok": True, "none": None}, None),
    ],
)
def test_a_nul_in_a_json_body_is_named_by_its_json_path(body, path):
    # The request's Struct field is the REST body (body: "changes"): its keys are the client's fields.
    changes = struct_pb2.Struct()
    changes.update(body)
    request = auth_pb2.UpdatePortalUserRequest(portal_user_id="pu_1", changes=changes)
    assert _field_with_nul(request) == path


def test_a_nul_in_a_typed_field_is_named_by_its_json_name():
    assert _field_with_nul(auth_pb2.UpdatePortalUserRequest(portal_user_id="pu\x00")) == "portalUserId"
    assert _field_with_nul(auth_pb2.ListPortalUsersRequest(status="active")) is None
