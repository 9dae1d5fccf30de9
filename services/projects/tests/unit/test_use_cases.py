"""The project use cases against a fake unit of work: in-memory projects and counters, committed
only when the use case says so."""

import pytest

from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.outbox import MemoryEvents, RecordedEvent
from projects.domain.model import Budget, Project, ProjectChanges
from projects.service_layer import projects as use_cases
from projects.service_layer.projects import ProjectsService

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")
NOW = 1767225600000  # 2026-01-01T00:00:00Z


class FakeProjects:
    def __init__(self):
        self.rows: dict[str, Project] = {}
        self.numbers: dict[tuple[str, int], int] = {}
        self.recorded: list[RecordedEvent] = []  # the events of committed units of work

    def get(self, organization_id, project_id):
        project = self.rows.get(project_id)
        if project is None or project.organization_id != organization_id:
            return None
        return Project(**{**vars(project), "free_properties": dict(project.free_properties)})

    def next_project_number(self, organization_id, year):
        self.numbers[organization_id, year] = self.numbers.get((organization_id, year), 0) + 1
        return self.numbers[organization_id, year]

    def add(self, project):
        self.rows[project.id] = project

    def save(self, project):
        self.rows[project.id] = project

    def delete(self, project):
        del self.rows[project.id]


class FakeUnitOfWork:
    """Writes land in `committed` only on commit: a copy of the store is worked on meanwhile."""

    def __init__(self, committed: FakeProjects):
        self.committed = committed
        self.commits = 0

    def __enter__(self):
        self.projects = FakeProjects()
        self.projects.rows, self.projects.numbers = dict(self.committed.rows), dict(self.committed.numbers)
        self.events = MemoryEvents()
        return self

    def commit(self):
        self.committed.rows, self.committed.numbers = self.projects.rows, self.projects.numbers
        self.commits += 1
        self.committed.recorded += self.events.added

    def __exit__(self, *exc):
        self.projects = None


class FakeCrm:
    def __init__(self, organizations=("co_acme",)):
        self.organizations = set(organizations)
        self.asked = []

    def has_organization(self, crm_organization_id, credential):
        self.asked.append((crm_organization_id, credential))
        return crm_organization_id in self.organizations


@pytest.fixture
def store():
    return FakeProjects()


@pytest.fixture
def crm():
    return FakeCrm()


@pytest.fixture
def service(store, crm, monkeypatch):
    monkeypatch.setattr(use_cases, "now_ms", lambda: NOW)
    return ProjectsService(lambda: FakeUnitOfWork(store), crm)


def create(service, **changes):
    return service.create(KEY, "pk_caller", ProjectChanges(**{"name": "Site", "subtype": "internal", **changes}))


def test_create_numbers_the_years_projects_and_stores_a_draft(service, store):
    first = create(service, budget=Budget(5000, "USD"), free_properties={"team": "web", "gone": None})
    second = create(service)
    assert (first.project_code, second.project_code) == ("PRJ-2026-001", "PRJ-2026-002")
    assert (first.status, first.created_by, first.created_at, first.updated_at) == ("draft", "key_a", NOW, NOW)
    assert first.free_properties == {"team": "web"}
    assert store.rows[first.id] == first


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"name": ProjectChanges.name}, "name"),  # the class attribute: UNSET, not given
        ({"status": "active"}, "status"),
        ({"start_date": 10, "target_end_date": 5}, "target_end_date"),
        ({"client_org_id": "co_unknown"}, "client_org_id"),
        ({"free_properties": {"big": 2**53}}, "free_properties.big"),
    ],
)
def test_a_refused_create_names_the_domain_field_and_writes_nothing(service, store, changes, field):
    with pytest.raises(InvalidArgument) as raised:
        create(service, **changes)
    assert raised.value.field == field
    assert store.rows == {} and store.numbers == {}


def test_the_client_is_asked_of_the_crm_on_behalf_of_the_caller(service, crm):
    create(service, client_org_id="co_acme")
    create(service, client_org_id=None)
    assert crm.asked == [("co_acme", "pk_caller")]


def test_update_applies_only_what_is_given_and_moves_along_the_workflow(service, store):
    project = create(service, description="Old", priority="high", free_properties={"a": 1, "b": 2})
    updated = service.update(
        "org_a",
        "pk",
        project.id,
        ProjectChanges(description=None, status="planning", progress=40, free_properties={"a": None, "c": 3}),
    )
    assert (updated.description, updated.status, updated.progress, updated.priority, updated.name) == (
        None,
        "planning",
        40,
        "high",
        "Site",
    )
    assert updated.free_properties == {"b": 2, "c": 3} and store.rows[project.id] == updated
    with pytest.raises(Conflict):
        service.update("org_a", "pk", project.id, ProjectChanges(status="draft", name="Changed"))
    assert store.rows[project.id] == updated  # not committed


def test_the_schedule_is_blamed_on_the_date_given(service):
    project = create(service, start_date=100, target_end_date=150)
    for changes, field in (
        (ProjectChanges(target_end_date=50), "target_end_date"),
        (ProjectChanges(start_date=200, progress=1), "start_date"),
    ):
        with pytest.raises(InvalidArgument) as raised:
            service.update("org_a", "pk", project.id, changes)
        assert raised.value.field == field


def test_archive_cancels_and_delete_takes_only_drafts(service, store):
    draft, planned = create(service), create(service, status="draft")
    service.update("org_a", "pk", planned.id, ProjectChanges(status="planning"))
    assert service.archive("org_a", planned.id).status == "cancelled"
    with pytest.raises(Conflict):
        service.delete("org_a", planned.id)
    service.delete("org_a", draft.id)
    assert list(store.rows) == [planned.id]


def test_another_organizations_project_is_not_found(service):
    project = create(service)
    for call in (
        lambda: service.update("org_b", "pk", project.id, ProjectChanges(name="x")),
        lambda: service.archive("org_b", project.id),
        lambda: service.delete("org_b", project.id),
    ):
        with pytest.raises(NotFound):
            call()


# Events (docs/events.md): each change records its event once, in its unit of work; a write that
# changes nothing, or is refused, records none.


def recorded(store) -> list[tuple[str, str, str]]:
    return [(event.type, event.organization_id, event.obj.id) for event in store.recorded]


def test_each_change_records_its_event_with_the_project_as_committed(service, store):
    project = create(service)
    service.update("org_a", "pk_caller", project.id, ProjectChanges(description="New"))
    service.update("org_a", "pk_caller", project.id, ProjectChanges(description="New"))  # no change
    deleted = create(service)
    service.delete("org_a", deleted.id)
    assert recorded(store) == [
        ("project.created", "org_a", project.id),
        ("project.updated", "org_a", project.id),
        ("project.created", "org_a", deleted.id),
        ("project.deleted", "org_a", deleted.id),
    ]
    assert store.recorded[1].obj == store.rows[project.id]
    assert store.recorded[3].obj.name == "Site"  # a deleted project as it was last


def test_archiving_records_archived_once_and_refusals_record_nothing(service, store):
    project = create(service)
    service.archive("org_a", project.id)
    service.archive("org_a", project.id)  # already cancelled: nothing changes
    with pytest.raises(Conflict):
        service.delete("org_a", project.id)
    with pytest.raises(NotFound):
        service.archive("org_b", project.id)
    with pytest.raises(InvalidArgument):
        service.update("org_a", "pk_caller", project.id, ProjectChanges(client_org_id="co_unknown"))
    assert recorded(store) == [("project.created", "org_a", project.id), ("project.archived", "org_a", project.id)]
    assert store.recorded[1].obj.status == "cancelled"
