"""The write model: each project in its own row and columns, and the counters kept beside them,
read and written within one unit of work."""

import dataclasses
import json
from typing import Callable

import sqlalchemy as sa

from portal_common.db import Repository, increment
from projects.adapters.tables import project_code_counters, project_counts, projects
from projects.domain.model import Budget, Project

# A project's read model (the serialized API message the hot reads return), which only the api
# layer can build: server.py hands its function in.
ViewOf = Callable[[Project], bytes]

# The attributes of Project stored in a column of the same name.
_FIELDS = [f.name for f in dataclasses.fields(Project) if f.name not in ("budget", "free_properties")]
_PROJECT_BY_ID = sa.select(
    *(projects.c[name] for name in _FIELDS),
    projects.c.budget_minor_units,
    projects.c.budget_currency,
    projects.c.free_properties,
).where(projects.c.organization_id == sa.bindparam("organization_id"), projects.c.id == sa.bindparam("project_id"))


def _project(row) -> Project:
    values = dict(row._mapping)
    minor_units, currency = values.pop("budget_minor_units"), values.pop("budget_currency")
    free_properties = json.loads(values.pop("free_properties"))
    return Project(
        **values, budget=Budget(minor_units, currency) if currency else None, free_properties=free_properties
    )


def project_row(project: Project, view: bytes) -> dict:
    """The columns of a project's row, its read model `view` included."""
    values = {name: getattr(project, name) for name in _FIELDS}
    values["budget_minor_units"] = project.budget.minor_units if project.budget else None
    values["budget_currency"] = project.budget.currency if project.budget else None
    values["free_properties"] = json.dumps(project.free_properties, ensure_ascii=False)
    values["search_text"] = project.search_text
    values["view"] = view
    return values


class ProjectsRepository(Repository):
    """Projects for a write unit of work: the rows it reads stay locked until it ends."""

    def __init__(self, connection: sa.Connection, view_of: ViewOf):
        super().__init__(connection, locking=True)
        self._view_of = view_of
        # The counter bucket (count_key) of each project read, to move it when saved.
        self._counted_as: dict[str, tuple[str, str, str]] = {}

    def get(self, organization_id: str, project_id: str) -> Project | None:
        params = {"organization_id": organization_id, "project_id": project_id}
        row = self._connection.execute(self._reading(_PROJECT_BY_ID), params).first()
        if row is None:
            return None
        project = _project(row)
        self._counted_as[project.id] = project.count_key
        return project

    def next_project_number(self, organization_id: str, year: int) -> int:
        """Takes the organization's next number of the year. The counter row stays locked until the
        transaction ends, so concurrent creates queue on it, and a deleted project's number is
        never given out again."""
        return increment(
            self._connection,
            project_code_counters,
            {"organization_id": organization_id, "year": year},
            "last_number",
            1,
        )

    def add(self, project: Project) -> None:
        self._connection.execute(projects.insert().values(**project_row(project, self._view_of(project))))
        self._count(project.organization_id, project.count_key, +1)

    def save(self, project: Project) -> None:
        """Writes a project read by `get` and changed since."""
        self._connection.execute(
            projects.update().where(projects.c.id == project.id).values(**project_row(project, self._view_of(project)))
        )
        counted_as = self._counted_as[project.id]
        if project.count_key != counted_as:
            self._count(project.organization_id, counted_as, -1)
            self._count(project.organization_id, project.count_key, +1)
            self._counted_as[project.id] = project.count_key

    def delete(self, project: Project) -> None:
        self._connection.execute(projects.delete().where(projects.c.id == project.id))
        self._count(project.organization_id, self._counted_as.pop(project.id), -1)

    def _count(self, organization_id: str, key: tuple[str, str, str], delta: int) -> None:
        status, subtype, priority = key
        increment(
            self._connection,
            project_counts,
            {"organization_id": organization_id, "status": status, "subtype": subtype, "priority": priority},
            "count",
            delta,
        )
