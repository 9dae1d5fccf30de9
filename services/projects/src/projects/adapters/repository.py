"""Reads and writes projects (the write model) within one connection (one unit of work)."""
import dataclasses
import json

import sqlalchemy as sa

from portal_common.db import Repository, increment
from projects.adapters.tables import project_code_counters, project_counts, projects
from projects.adapters.views import project_message
from projects.domain.model import Budget, Project

# The attributes of Project stored in a column of the same name.
_FIELDS = [f.name for f in dataclasses.fields(Project) if f.name not in ("budget", "free_properties")]
_PROJECT_BY_ID = sa.select(*(projects.c[name] for name in _FIELDS), projects.c.budget_minor_units,
                           projects.c.budget_currency, projects.c.free_properties).where(
    projects.c.organization_id == sa.bindparam("organization_id"), projects.c.id == sa.bindparam("project_id"))


def _project(row) -> Project:
    values = dict(row._mapping)
    minor_units, currency = values.pop("budget_minor_units"), values.pop("budget_currency")
    free_properties = json.loads(values.pop("free_properties"))
    return Project(**values, budget=Budget(minor_units, currency) if currency else None,
                   free_properties=free_properties)


def project_values(project: Project) -> dict:
    """The columns of a project's row, its stored view included."""
    values = {name: getattr(project, name) for name in _FIELDS}
    values["budget_minor_units"] = project.budget.minor_units if project.budget else None
    values["budget_currency"] = project.budget.currency if project.budget else None
    values["free_properties"] = json.dumps(project.free_properties, ensure_ascii=False)
    values["search_text"] = project.search_text
    values["view"] = project_message(project).SerializeToString()
    return values


class ProjectsRepository(Repository):
    def project(self, organization_id: str, project_id: str) -> Project | None:
        params = {"organization_id": organization_id, "project_id": project_id}
        row = self._connection.execute(self._reading(_PROJECT_BY_ID), params).first()
        return _project(row) if row else None

    def next_project_number(self, organization_id: str, year: int) -> int:
        """Takes the organization's next number of the year. The counter row stays locked until the
        transaction ends, so concurrent creates queue on it, and a deleted project's number is
        never given out again."""
        return increment(self._connection, project_code_counters,
                         {"organization_id": organization_id, "year": year}, "last_number", 1)

    def add_project(self, project: Project) -> None:
        self._connection.execute(projects.insert().values(**project_values(project)))
        self._count(project.organization_id, project.count_key, +1)

    def save_project(self, project: Project, counted_as: tuple[str, str, str]) -> None:
        """Writes a changed project; `counted_as` is its count_key when it was read."""
        self._connection.execute(projects.update().where(projects.c.id == project.id)
                                 .values(**project_values(project)))
        if project.count_key != counted_as:
            self._count(project.organization_id, counted_as, -1)
            self._count(project.organization_id, project.count_key, +1)

    def delete_project(self, project: Project) -> None:
        self._connection.execute(projects.delete().where(projects.c.id == project.id))
        self._count(project.organization_id, project.count_key, -1)

    def _count(self, organization_id: str, key: tuple[str, str, str], delta: int) -> None:
        status, subtype, priority = key
        increment(self._connection, project_counts, {"organization_id": organization_id, "status": status,
                                                     "subtype": subtype, "priority": priority}, "count", delta)
