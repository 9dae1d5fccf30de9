"""The projects service over real gRPC, as internal callers use it, with real auth and CRM services."""

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal.projects.v1 import projects_pb2, projects_pb2_grpc
from portal_common.peers import on_behalf_of as bearer
from portal_stack.testing import error_info
from projects.config import Settings
from projects.server import build


@pytest.fixture(scope="module")
def servers(databases, grpc_peers):
    settings = Settings(
        database_url=databases.new_url("projects"),
        address="127.0.0.1:0",
        auth_target=grpc_peers.auth_target,
        crm_target=grpc_peers.crm_target,
        internal_token=grpc_peers.internal_token,
    )
    projects_server, projects_port = build(settings, settings.address)
    projects_server.start()
    yield {
        "accounts": grpc_peers.accounts,
        "auth": auth_pb2_grpc.PortalAuthServiceStub(grpc.insecure_channel(grpc_peers.auth_target)),
        "crm": crm_pb2_grpc.CrmServiceStub(grpc.insecure_channel(grpc_peers.crm_target)),
        "projects": projects_pb2_grpc.ProjectsServiceStub(grpc.insecure_channel(f"127.0.0.1:{projects_port}")),
    }
    projects_server.stop(None)


def changes(**fields) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(fields)
    return struct


def new_project(**fields) -> projects_pb2.CreateProjectRequest:
    """A create request: gRPC callers send the REST body's JSON object as a Struct."""
    return projects_pb2.CreateProjectRequest(project=changes(**fields))


def properties(project: projects_pb2.Project) -> dict:
    return json_format.MessageToDict(project.custom_properties)


def test_create_answers_201_metadata_and_the_project(servers):
    _, key = servers["accounts"].create_organization("Acme")
    request = new_project(name="Website", subtype="client_project")
    project, call = servers["projects"].CreateProject.with_call(request, metadata=bearer(key))
    assert ("x-portal-http-status", "201") in call.initial_metadata()
    assert (project.type, project.status, properties(project)["priority"]) == ("project", "draft", "medium")
    assert project.created_by.startswith("key_") and properties(project)["projectCode"].startswith("PRJ-")
    got = servers["projects"].GetProject(projects_pb2.GetProjectRequest(project_id=project.id), metadata=bearer(key))
    assert got == project


def test_the_seeds_create_input_and_free_form_properties_over_grpc(servers):
    _, key = servers["accounts"].create_organization("Acme")
    project = servers["projects"].CreateProject(
        new_project(
            name="Website Redesign",
            subtype="client_project",
            startDate=1704067200000,
            priority="high",
            budget={"amount": 50000, "currency": "USD"},
            customProperties={
                "department": "Marketing",
                "budget": {"amountInMinorUnits": 5_000_000, "currency": "USD"},
            },
        ),
        metadata=bearer(key),
    )
    assert properties(project) == {
        "projectCode": properties(project)["projectCode"],
        "startDate": 1704067200000,
        "priority": "high",
        "progress": 0,
        "budget": {"amount": 50000, "amountInMinorUnits": 5_000_000, "currency": "USD"},
        "department": "Marketing",
    }


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "P", "subtype": "internal", "priorty": "high"}, "priorty"),
        ({"name": "P", "subtype": "internal", "budget": {"amont": 5, "currency": "USD"}}, "budget.amont"),
        ({"name": "P", "subtype": "internal", "progress": 1, "customProperties": {"progress": 2}}, "progress"),
    ],
)
def test_unknown_and_conflicting_fields_name_the_json_path(servers, body, field):
    _, key = servers["accounts"].create_organization("Acme")
    with pytest.raises(grpc.RpcError) as raised:
        servers["projects"].CreateProject(new_project(**body), metadata=bearer(key))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == field


def test_the_client_is_checked_in_the_callers_crm(servers):
    _, key = servers["accounts"].create_organization("Acme")
    _, other_key = servers["accounts"].create_organization("Other")
    contact = servers["crm"].UpsertContact(
        crm_pb2.UpsertContactRequest(contact=changes(email="jo@acme.example", organizationInfo={"name": "Acme Corp"})),
        metadata=bearer(key),
    )
    client = contact.crm_organization_id
    request = new_project(name="Site", subtype="client_project", customProperties={"clientOrgId": client})
    assert properties(servers["projects"].CreateProject(request, metadata=bearer(key)))["clientOrgId"] == client
    with pytest.raises(grpc.RpcError) as raised:  # another organization's CRM organization is unknown to its key
        servers["projects"].CreateProject(request, metadata=bearer(other_key))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == "customProperties.clientOrgId"


def test_updates_take_a_struct_and_illegal_transitions_are_conflicts(servers):
    _, key = servers["accounts"].create_organization("Acme")
    stub = servers["projects"]
    project = stub.CreateProject(new_project(name="Site", subtype="internal"), metadata=bearer(key))
    updated = stub.UpdateProject(
        projects_pb2.UpdateProjectRequest(
            project_id=project.id, changes=changes(status="planning", customProperties={"progress": 10})
        ),
        metadata=bearer(key),
    )
    assert (updated.status, properties(updated)["progress"]) == ("planning", 10)
    with pytest.raises(grpc.RpcError) as raised:
        stub.UpdateProject(
            projects_pb2.UpdateProjectRequest(project_id=project.id, changes=changes(status="draft")),
            metadata=bearer(key),
        )
    assert error_info(raised.value).reason == "CONFLICT"
    trailers = dict(raised.value.trailing_metadata())
    assert trailers["x-portal-http-status"] == "409" and "from planning to draft" in trailers["x-portal-error"]
    with pytest.raises(grpc.RpcError) as raised:
        stub.DeleteProject(projects_pb2.DeleteProjectRequest(project_id=project.id), metadata=bearer(key))
    assert dict(raised.value.trailing_metadata())["x-portal-http-status"] == "409"
    archived = stub.ArchiveProject(projects_pb2.ArchiveProjectRequest(project_id=project.id), metadata=bearer(key))
    assert archived.status == "cancelled"


def test_portal_users_may_only_read_their_clients_projects(servers):
    _, key = servers["accounts"].create_organization("Acme")
    stub = servers["projects"]
    contact = servers["crm"].UpsertContact(
        crm_pb2.UpsertContactRequest(
            contact=changes(email="user@acme.example", organizationInfo={"name": "Acme Corp"})
        ),
        metadata=bearer(key),
    )
    mine = stub.CreateProject(
        new_project(name="Mine", subtype="client_project", clientOrgId=contact.crm_organization_id),
        metadata=bearer(key),
    )
    other = stub.CreateProject(new_project(name="Internal", subtype="internal"), metadata=bearer(key))
    stub.UpdateProject(
        projects_pb2.UpdateProjectRequest(project_id=mine.id, changes=changes(status="planning")), metadata=bearer(key)
    )
    # The contact's portal user sees its CRM organization's projects once granted.
    servers["crm"].UpdateContact(
        crm_pb2.UpdateContactRequest(contact_id=contact.contact_id, changes=changes(portalAccess="organization")),
        metadata=bearer(key),
    )
    session = (
        servers["auth"]
        .SyncUser(
            auth_pb2.SyncUserRequest(user=changes(email="user@acme.example", oauthProvider="google", oauthId="g-1")),
            metadata=bearer(key),
        )
        .session_token
    )
    listed = stub.ListProjects(projects_pb2.ListProjectsRequest(), metadata=bearer(session))
    assert [p.id for p in listed.projects] == [mine.id] and listed.total == 1
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetProject(projects_pb2.GetProjectRequest(project_id=other.id), metadata=bearer(session))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as raised:
        stub.ArchiveProject(projects_pb2.ArchiveProjectRequest(project_id=mine.id), metadata=bearer(session))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("metadata", [[], [("authorization", "Bearer pk_" + "a" * 43)]])
def test_calls_without_a_valid_credential_are_unauthenticated(servers, metadata):
    with pytest.raises(grpc.RpcError) as raised:
        servers["projects"].ListProjects(projects_pb2.ListProjectsRequest(), metadata=metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
