"""The project use cases against a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE)."""

import threading

import pytest
import sqlalchemy as sa
from google.protobuf import json_format

from portal_common.auth import API_KEY, PORTAL_USER, Principal
from portal_common.clock import now_ms
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound, Unavailable
from projects.adapters.tables import project_code_counters
from projects.config import MIGRATIONS
from projects.domain.model import code_year
from projects.queries import ProjectFilter
from projects.service_layer import projects as use_cases

KEY = Principal(kind=API_KEY, organization_id="org_a", credential_id="key_a")
OTHER = Principal(kind=API_KEY, organization_id="org_b", credential_id="key_b")
YEAR = code_year(now_ms())
EVERYTHING = ProjectFilter()


class FakeCrm:
    """CRM organizations by id; `down` makes it answer like an unreachable CRM."""

    def __init__(self):
        self.organizations = {"co_acme", "co_globex"}
        self.down = False
        self.asked = []

    def has_organization(self, crm_organization_id, credential):
        if self.down:
            raise Unavailable("the CRM service did not answer (DEADLINE_EXCEEDED); try again shortly")
        self.asked.append((crm_organization_id, credential))
        return crm_organization_id in self.organizations


@pytest.fixture
def engine(databases):
    with databases.migrated_engine("projects", MIGRATIONS) as engine:
        yield engine


@pytest.fixture
def crm():
    return FakeCrm()


@pytest.fixture
def service(engine, crm, service_on):
    return service_on(engine, crm)


def create(service, principal=KEY, **fields):
    return service.create_project(principal, "pk_caller", {"name": "Website", "subtype": "internal", **fields})


def stored_properties(service, project_id: str) -> dict:
    """customProperties as the stored view holds them (what GET answers)."""
    return json_format.MessageToDict(service.get_project(KEY, project_id).custom_properties)


def portal_user(crm_organization_id: str) -> Principal:
    return Principal(
        kind=PORTAL_USER, organization_id="org_a", credential_id="ses_1", crm_organization_id=crm_organization_id
    )


def test_a_new_project_is_a_draft_with_the_next_code_and_its_creator(service):
    first = create(
        service,
        description="Corporate site",
        customProperties={
            "startDate": 1704067200000,
            "targetEndDate": 1709251200000,
            "budget": {"amount": 50000, "currency": "USD"},
            "priority": "high",
            "progress": 45,
            "clientOrgId": "co_acme",
            "detailedDescription": "<p>Rich</p>",
        },
    )
    second = create(service)
    assert (first.project_code, second.project_code) == (f"PRJ-{YEAR}-001", f"PRJ-{YEAR}-002")
    assert (first.status, first.created_by, first.organization_id) == ("draft", "key_a", "org_a")
    assert (first.budget.minor_units, first.budget.currency, first.priority, first.progress) == (
        5_000_000,
        "USD",
        "high",
        45,
    )
    assert (second.priority, second.progress, second.budget, second.client_org_id) == ("medium", 0, None, None)
    assert first.id.startswith("prj_") and first.created_at == first.updated_at
    assert stored_properties(service, first.id) == {
        "projectCode": first.project_code,
        "startDate": 1704067200000,
        "targetEndDate": 1709251200000,
        "budget": {"amount": 50000, "amountInMinorUnits": 5_000_000, "currency": "USD"},
        "priority": "high",
        "progress": 45,
        "clientOrgId": "co_acme",
        "detailedDescription": "<p>Rich</p>",
    }


# The seed's createProject input: the properties at the top level beside name and subtype.
SEED_CREATE_INPUT = {
    "subtype": "client_project",
    "name": "Website Redesign",
    "description": "Complete redesign of corporate website",
    "startDate": 1704067200000,
    "targetEndDate": 1709251200000,
    "budget": {"amount": 50000, "currency": "USD"},
    "priority": "high",
    "clientOrgId": "co_acme",
    "customProperties": {"department": "Marketing"},
}


def test_the_seeds_create_input_sets_every_field_from_the_top_level(service):
    project = service.create_project(KEY, "pk", SEED_CREATE_INPUT)
    assert (project.name, project.subtype, project.description) == (
        "Website Redesign",
        "client_project",
        "Complete redesign of corporate website",
    )
    assert stored_properties(service, project.id) == {
        "projectCode": project.project_code,
        "startDate": 1704067200000,
        "targetEndDate": 1709251200000,
        "budget": {"amount": 50000, "amountInMinorUnits": 5_000_000, "currency": "USD"},
        "priority": "high",
        "progress": 0,
        "clientOrgId": "co_acme",
        "department": "Marketing",
    }


def test_a_property_in_both_places_must_have_one_value(service):
    both = create(
        service,
        progress=45,
        budget={"amount": 10, "currency": "usd"},
        customProperties={"progress": 45.0, "budget": {"amountInMinorUnits": 1000, "currency": "USD"}},
    )
    assert (both.progress, both.budget.minor_units) == (45, 1000)
    for top, inside in (
        ({"progress": 45}, {"progress": 46}),
        ({"startDate": 1}, {"startDate": None}),
        ({"budget": {"amount": 10, "currency": "USD"}}, {"budget": {"amount": 10, "currency": "EUR"}}),
    ):
        name = next(iter(top))
        with pytest.raises(InvalidArgument, match="given twice") as raised:
            create(service, **top, customProperties=inside)
        assert raised.value.field == name
        project = create(service)
        with pytest.raises(InvalidArgument) as raised:  # and in a PATCH, whatever the order of the keys
            service.update_project("org_a", "pk", project.id, {"customProperties": inside, **top})
        assert raised.value.field == name


def test_free_form_properties_are_stored_merged_and_removed_by_null(service):
    project = create(
        service, customProperties={"department": "Marketing", "tags": ["web", 2], "nested": {"a": [1]}, "empty": None}
    )
    assert project.free_properties == {"department": "Marketing", "tags": ["web", 2], "nested": {"a": [1]}}
    updated = service.update_project(
        "org_a", "pk", project.id, {"customProperties": {"tags": None, "owner": {"name": "Zoë"}, "progress": 10}}
    )
    assert updated.free_properties == {"department": "Marketing", "nested": {"a": [1]}, "owner": {"name": "Zoë"}}
    props = stored_properties(service, project.id)
    assert {key: props[key] for key in ("department", "nested", "owner", "progress")} == {
        "department": "Marketing",
        "nested": {"a": [1]},
        "owner": {"name": "Zoë"},
        "progress": 10,
    }


@pytest.mark.parametrize(
    "properties,field",
    [
        ({"status": "active"}, "customProperties.status"),
        ({"name": "x"}, "customProperties.name"),
        ({"_id": "x"}, "customProperties._id"),
        ({"customProperties": {}}, "customProperties.customProperties"),
        (
            {"deep": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {}}}}}}}}}}},
            "customProperties.deep.a.a.a.a.a.a.a.a.a",
        ),
        ({"big": 2**53}, "customProperties.big"),
        ({"list": [1, float("inf")]}, "customProperties.list[1]"),
        ({"notes": "x" * 8200}, "customProperties"),
    ],
)
def test_bad_free_form_properties_are_refused(service, properties, field):
    with pytest.raises(InvalidArgument) as raised:
        create(service, customProperties=properties)
    assert raised.value.field == field


def test_the_free_form_size_limit_counts_what_is_kept_after_a_patch(service):
    project = create(service, customProperties={"a": "x" * 5000})
    with pytest.raises(InvalidArgument, match="8192 bytes"):
        service.update_project("org_a", "pk", project.id, {"customProperties": {"b": "y" * 4000}})
    updated = service.update_project("org_a", "pk", project.id, {"customProperties": {"a": None, "b": "y" * 4000}})
    assert updated.free_properties == {"b": "y" * 4000}


def test_a_new_project_can_only_be_a_draft_of_type_project(service):
    assert create(service, status="draft", type="project").status == "draft"
    for fields, field in (
        ({"status": "active"}, "status"),
        ({"type": "invoice"}, "type"),
        ({"status": "closed"}, "status"),
    ):
        with pytest.raises(InvalidArgument) as raised:
            create(service, **fields)
        assert raised.value.field == field


def test_sixteen_concurrent_creates_take_sixteen_different_codes(service):
    barrier, codes, errors = threading.Barrier(16), [], []

    def create_one():
        barrier.wait()
        try:
            codes.append(create(service).project_code)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=create_one) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(codes) == [f"PRJ-{YEAR}-{n:03d}" for n in range(1, 17)]
    assert service.list_projects(KEY, EVERYTHING, 50, 0).total == 16


def test_codes_count_per_organization_and_year_and_are_never_reused(service, monkeypatch):
    assert create(service, principal=OTHER).project_code == f"PRJ-{YEAR}-001"
    draft = create(service)
    service.delete_project("org_a", draft.id)
    assert create(service).project_code == f"PRJ-{YEAR}-002"
    monkeypatch.setattr(use_cases, "now_ms", lambda: 1893456000000)  # 2030-01-01T00:00:00Z
    assert create(service).project_code == "PRJ-2030-001"


def test_codes_widen_past_999(service, engine):
    with engine.begin() as connection:
        connection.execute(sa.insert(project_code_counters).values(organization_id="org_a", year=YEAR, last_number=998))
    assert [create(service).project_code for _ in range(2)] == [f"PRJ-{YEAR}-999", f"PRJ-{YEAR}-1000"]


def test_the_longest_texts_are_stored_and_searchable(service):
    words = " ".join(f"word{i:05d}" for i in range(1000))  # 9,999 characters
    project = create(
        service, name="n" * 200, description=words, customProperties={"detailedDescription": f"<p>{words}</p>" * 9}
    )
    page = service.list_projects(KEY, ProjectFilter(search="word00999"), 50, 0)
    assert [p.id for p in page.projects] == [project.id] and page.total == 1


def test_the_code_and_other_assigned_fields_cannot_be_given(service):
    for fields in (
        {"customProperties": {"projectCode": "PRJ-1999-001"}},
        {"_id": "prj_x"},
        {"createdBy": "me"},
        {"projectCode": "PRJ-1999-001"},
    ):
        with pytest.raises(InvalidArgument, match="set by the service"):
            create(service, **fields)
    project = create(service)
    with pytest.raises(InvalidArgument) as raised:
        service.update_project("org_a", "pk", project.id, {"customProperties": {"projectCode": "PRJ-1999-001"}})
    assert raised.value.field == "customProperties.projectCode"


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"name": ""}, "name"),
        ({"subtype": ""}, "subtype"),
        ({"subtype": "vip"}, "subtype"),
        ({"name": "x" * 201}, "name"),
        ({"customProperties": {"priority": "urgent"}}, "customProperties.priority"),
        ({"customProperties": {"progress": 101}}, "customProperties.progress"),
        ({"customProperties": {"budget": {"amount": -5, "currency": "USD"}}}, "customProperties.budget.amount"),
        ({"customProperties": {"budget": {"amount": 5, "currency": "ABC"}}}, "customProperties.budget.currency"),
        ({"budget": {"amount": -5, "currency": "USD"}}, "budget.amount"),
        ({"budget": {"amountInMinorUnits": -5, "currency": "USD"}}, "budget.amountInMinorUnits"),
        ({"budget": {"amount": 5, "currency": "ABC"}}, "budget.currency"),
        ({"budget": {"amont": 5, "currency": "USD"}}, "budget.amont"),
        ({"budget": {"amountInMinorUnits": 2**53, "currency": "USD"}}, "budget.amountInMinorUnits"),
        ({"customProperties": {"startDate": 2000, "targetEndDate": 1000}}, "customProperties.targetEndDate"),
        ({"startDate": 2000, "targetEndDate": 1000}, "targetEndDate"),
        ({"customProperties": {"clientOrgId": "co_unknown"}}, "customProperties.clientOrgId"),
        ({"clientOrgId": "co_unknown"}, "clientOrgId"),
        ({"priorty": "high"}, "priorty"),
        ({"customProperties": "x"}, "customProperties"),
    ],
)
def test_invalid_creates_name_the_field_and_take_no_code(service, fields, field):
    with pytest.raises(InvalidArgument) as raised:
        create(service, **fields)
    assert raised.value.field == field
    assert create(service).project_code == f"PRJ-{YEAR}-001"


def test_the_client_is_checked_with_the_crm_on_behalf_of_the_caller(service, crm):
    create(service, customProperties={"clientOrgId": "co_acme"})
    assert crm.asked == [("co_acme", "pk_caller")]
    crm.down = True
    with pytest.raises(Unavailable):
        create(service, customProperties={"clientOrgId": "co_acme"})
    project = create(service)  # no client, no question
    with pytest.raises(Unavailable):
        service.update_project("org_a", "pk", project.id, {"customProperties": {"clientOrgId": "co_globex"}})
    assert "clientOrgId" not in stored_properties(service, project.id)


def test_updates_change_only_the_given_fields_and_null_clears(service):
    project = create(
        service,
        description="Old",
        customProperties={
            "startDate": 1000,
            "budget": {"amount": 10, "currency": "EUR"},
            "priority": "low",
            "clientOrgId": "co_acme",
        },
    )
    updated = service.update_project(
        "org_a",
        "pk",
        project.id,
        {
            "name": " New name ",
            "description": None,
            "customProperties": {"progress": 50.0, "budget": None, "targetEndDate": 2000},
        },
    )
    assert (updated.name, updated.description, updated.progress, updated.budget) == ("New name", None, 50, None)
    assert (updated.start_date, updated.target_end_date, updated.priority, updated.client_org_id) == (
        1000,
        2000,
        "low",
        "co_acme",
    )
    assert updated.updated_at >= project.updated_at and updated.project_code == project.project_code
    with pytest.raises(InvalidArgument) as raised:  # checked against the stored start date
        service.update_project("org_a", "pk", project.id, {"customProperties": {"targetEndDate": 999}})
    assert raised.value.field == "customProperties.targetEndDate"
    with pytest.raises(InvalidArgument) as raised:  # blamed on the date the request gave
        service.update_project("org_a", "pk", project.id, {"startDate": 3000})
    assert raised.value.field == "startDate"
    seed_patches = service.update_project("org_a", "pk", project.id, {"progress": 45})
    seed_patches = service.update_project("org_a", "pk", project.id, {"detailedDescription": "<p>Scope</p>"})
    assert (seed_patches.progress, seed_patches.detailed_description) == (45, "<p>Scope</p>")
    for null in (
        {"name": None},
        {"subtype": None},
        {"status": None},
        {"customProperties": {"priority": None}},
        {"customProperties": {"progress": None}},
        {"customProperties": None},
    ):
        with pytest.raises(InvalidArgument):
            service.update_project("org_a", "pk", project.id, null)
    with pytest.raises(InvalidArgument, match="unknown field colour"):
        service.update_project("org_a", "pk", project.id, {"colour": "red"})


def test_detailed_description_is_sanitized(service):
    dirty = (
        '<p onclick="steal()">Plan <script>alert(1)</script><a href="javascript:alert(1)">x</a>'
        '<a href="https://example.com">site</a><img src=x onerror="alert(1)"></p>'
    )
    project = create(service, customProperties={"detailedDescription": dirty})
    html = project.detailed_description
    for bad in ("script", "onclick", "onerror", "javascript:", "alert"):
        assert bad not in html
    assert '<a href="https://example.com"' in html and html.startswith("<p>Plan")
    cleared = service.update_project(
        "org_a", "pk", project.id, {"customProperties": {"detailedDescription": "<script>x</script>"}}
    )
    assert cleared.detailed_description is None


def test_status_changes_follow_the_workflow(service):
    project = create(service)
    for status in ("planning", "active", "on_hold", "active", "completed"):
        assert service.update_project("org_a", "pk", project.id, {"status": status}).status == status
    with pytest.raises(Conflict, match="from completed to active"):
        service.update_project("org_a", "pk", project.id, {"status": "active"})
    with pytest.raises(Conflict):
        service.archive_project("org_a", project.id)


def test_archive_cancels_once_and_then_changes_nothing(service):
    project = create(service)
    archived = service.archive_project("org_a", project.id)
    again = service.archive_project("org_a", project.id)
    assert archived.status == again.status == "cancelled" and again.updated_at == archived.updated_at
    with pytest.raises(Conflict, match="from cancelled to draft"):
        service.update_project("org_a", "pk", project.id, {"status": "draft"})


def test_only_drafts_are_deleted(service):
    draft, planned = create(service), create(service)
    service.update_project("org_a", "pk", planned.id, {"status": "planning"})
    with pytest.raises(Conflict, match="only draft projects can be deleted"):
        service.delete_project("org_a", planned.id)
    service.delete_project("org_a", draft.id)
    with pytest.raises(NotFound):
        service.get_project(KEY, draft.id)
    with pytest.raises(NotFound):
        service.delete_project("org_a", draft.id)
    page = service.list_projects(KEY, EVERYTHING, 50, 0)
    assert [p.id for p in page.projects] == [planned.id] and page.total == 1


def test_other_organizations_projects_are_not_found(service):
    project = create(service)
    with pytest.raises(NotFound):
        service.get_project(OTHER, project.id)
    for write in (
        lambda: service.update_project("org_b", "pk", project.id, {"name": "x"}),
        lambda: service.archive_project("org_b", project.id),
        lambda: service.delete_project("org_b", project.id),
    ):
        with pytest.raises(NotFound):
            write()
    assert service.list_projects(OTHER, EVERYTHING, 50, 0).total == 0
    assert service.get_project(KEY, project.id).status == "draft"


def test_lists_filter_search_and_page_newest_first_with_exact_totals(service):
    a = create(
        service,
        name="Alpha site",
        subtype="client_project",
        customProperties={"priority": "high", "clientOrgId": "co_acme"},
    )
    b = create(service, name="Beta", description="100% of the_launch", subtype="campaign")
    c = create(service, name="Gamma", subtype="client_project", customProperties={"clientOrgId": "co_globex"})
    service.update_project("org_a", "pk", c.id, {"status": "planning", "customProperties": {"priority": "high"}})

    def ids(**filters):
        page = service.list_projects(KEY, ProjectFilter(**filters), 50, 0)
        assert page.total == len(page.projects)
        return [p.id for p in page.projects]

    assert ids() == [c.id, b.id, a.id]
    assert ids(subtype="client_project") == [c.id, a.id]
    assert ids(status="planning") == [c.id] and ids(status="draft") == [b.id, a.id]
    assert ids(priority="high") == [c.id, a.id] and ids(priority="high", status="draft") == [a.id]
    assert ids(client_org_id="co_acme") == [a.id]
    assert ids(search="ALPHA") == [a.id] and ids(search=a.project_code.lower()) == [a.id]
    assert ids(search="100% of the_") == [b.id] and ids(search="_") == [b.id]
    pages = [service.list_projects(KEY, EVERYTHING, 2, offset) for offset in (0, 2, 4)]
    assert [[p.id for p in page.projects] for page in pages] == [[c.id, b.id], [a.id], []]
    assert [page.total for page in pages] == [3, 3, 3]
    for field, value in (("status", "open"), ("subtype", "x"), ("priority", "urgent")):
        with pytest.raises(InvalidArgument) as raised:
            service.list_projects(KEY, ProjectFilter(**{field: value}), 50, 0)
        assert raised.value.field == field


def test_portal_users_see_only_their_granted_clients_projects_and_never_drafts(service):
    mine = create(service, customProperties={"clientOrgId": "co_acme"})
    service.update_project("org_a", "pk_caller", mine.id, {"status": "planning"})
    draft = create(service, customProperties={"clientOrgId": "co_acme", "budget": {"amount": 9, "currency": "USD"}})
    theirs = create(service, customProperties={"clientOrgId": "co_globex"})
    service.update_project("org_a", "pk_caller", theirs.id, {"status": "planning"})
    unlinked = create(service)
    user = portal_user("co_acme")
    assert service.get_project(user, mine.id).id == mine.id
    for hidden in (theirs.id, unlinked.id, draft.id):
        with pytest.raises(NotFound):
            service.get_project(user, hidden)
    page = service.list_projects(user, EVERYTHING, 50, 0)
    assert [p.id for p in page.projects] == [mine.id] and page.total == 1
    assert service.list_projects(user, ProjectFilter(client_org_id="co_globex"), 50, 0).total == 0
    assert service.list_projects(user, ProjectFilter(client_org_id="co_acme"), 50, 0).total == 1
    assert service.list_projects(user, ProjectFilter(status="draft"), 50, 0).total == 0
    assert service.list_projects(KEY, ProjectFilter(client_org_id="co_acme"), 50, 0).total == 2
    nobody = portal_user("")
    assert service.list_projects(nobody, EVERYTHING, 50, 0).total == 0
    with pytest.raises(NotFound):
        service.get_project(nobody, unlinked.id)
