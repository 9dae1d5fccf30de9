"""The projects service over real gRPC, as internal callers use it, with real auth and CRM services."""
import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2, status_pb2

from auth.config import Settings as AuthSettings
from auth.server import build as build_auth, open_accounts
from crm.config import Settings as CrmSettings
from crm.server import build as build_crm
from portal.auth.v1 import auth_pb2, auth_pb2_grpc
from portal.crm.v1 import crm_pb2, crm_pb2_grpc
from portal.projects.v1 import projects_pb2, projects_pb2_grpc
from portal_stack.testing import free_port
from projects.config import Settings
from projects.server import build


@pytest.fixture(scope="module")
def servers(databases):
    crm_target = f"127.0.0.1:{free_port()}"
    auth_settings = AuthSettings(database_url=databases.new_url("auth"), address="127.0.0.1:0", crm_target=crm_target)
    auth_server, auth_port = build_auth(auth_settings, auth_settings.address)
    auth_target = f"127.0.0.1:{auth_port}"
    crm_settings = CrmSettings(database_url=databases.new_url("crm"), address=crm_target, auth_target=auth_target,
                               credential_cache_seconds=5)
    crm_server, _ = build_crm(crm_settings, crm_settings.address)
    settings = Settings(database_url=databases.new_url("projects"), address="127.0.0.1:0", auth_target=auth_target,
                        crm_target=crm_target)
    projects_server, projects_port = build(settings, settings.address)
    for server in (auth_server, crm_server, projects_server):
        server.start()
    yield {
        "accounts": open_accounts(auth_settings),
        "auth": auth_pb2_grpc.PortalAuthServiceStub(grpc.insecure_channel(auth_target)),
        "crm": crm_pb2_grpc.CrmServiceStub(grpc.insecure_channel(crm_target)),
        "projects": projects_pb2_grpc.ProjectsServiceStub(grpc.insecure_channel(f"127.0.0.1:{projects_port}")),
    }
    for server in (projects_server, crm_server, auth_server):
        server.stop(None)


def bearer(credential):
    return [("authorization", f"Bearer {credential}")]


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    status_pb2.Status.FromString(details).details[0].Unpack(info)
    return info


def changes(**fields) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(fields)
    return struct


def test_create_answers_201_metadata_and_the_project(servers):
    _, key = servers["accounts"].create_organization("Acme")
    request = projects_pb2.CreateProjectRequest(name="Website", subtype="client_project")
    project, call = servers["projects"].CreateProject.with_call(request, metadata=bearer(key))
    assert ("x-portal-http-status", "201") in call.initial_metadata()
    assert (project.type, project.status, project.custom_properties.priority) == ("project", "draft", "medium")
    assert project.created_by.startswith("key_") and project.custom_properties.project_code.startswith("PRJ-")
    got = servers["projects"].GetProject(projects_pb2.GetProjectRequest(project_id=project.id), metadata=bearer(key))
    assert got == project


def test_the_client_is_checked_in_the_callers_crm(servers):
    _, key = servers["accounts"].create_organization("Acme")
    _, other_key = servers["accounts"].create_organization("Other")
    contact = servers["crm"].UpsertContact(crm_pb2.UpsertContactRequest(
        email="jo@acme.example", organization_info=crm_pb2.OrganizationInfo(name="Acme Corp")), metadata=bearer(key))
    client = contact.crm_organization_id
    request = projects_pb2.CreateProjectRequest(name="Site", subtype="client_project",
                                                custom_properties=projects_pb2.ProjectProperties(client_org_id=client))
    assert servers["projects"].CreateProject(request, metadata=bearer(key)).custom_properties.client_org_id == client
    with pytest.raises(grpc.RpcError) as raised:  # another organization's CRM organization is unknown to its key
        servers["projects"].CreateProject(request, metadata=bearer(other_key))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == "customProperties.clientOrgId"


def test_updates_take_a_struct_and_illegal_transitions_are_conflicts(servers):
    _, key = servers["accounts"].create_organization("Acme")
    stub = servers["projects"]
    project = stub.CreateProject(projects_pb2.CreateProjectRequest(name="Site", subtype="internal"),
                                 metadata=bearer(key))
    updated = stub.UpdateProject(projects_pb2.UpdateProjectRequest(
        project_id=project.id, changes=changes(status="planning", customProperties={"progress": 10})),
        metadata=bearer(key))
    assert (updated.status, updated.custom_properties.progress) == ("planning", 10)
    with pytest.raises(grpc.RpcError) as raised:
        stub.UpdateProject(projects_pb2.UpdateProjectRequest(project_id=project.id, changes=changes(status="draft")),
                           metadata=bearer(key))
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
    contact = servers["crm"].UpsertContact(crm_pb2.UpsertContactRequest(
        email="user@acme.example", organization_info=crm_pb2.OrganizationInfo(name="Acme Corp")), metadata=bearer(key))
    mine = stub.CreateProject(projects_pb2.CreateProjectRequest(
        name="Mine", subtype="client_project",
        custom_properties=projects_pb2.ProjectProperties(client_org_id=contact.crm_organization_id)),
        metadata=bearer(key))
    other = stub.CreateProject(projects_pb2.CreateProjectRequest(name="Internal", subtype="internal"),
                               metadata=bearer(key))
    session = servers["auth"].SyncUser(auth_pb2.SyncUserRequest(
        email="user@acme.example", oauth_provider="google", oauth_id="g-1"), metadata=bearer(key)).session_token
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
