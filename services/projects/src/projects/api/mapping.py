"""The one module that knows both sides: the API's JSON and messages, and the domain's terms.

Requests become typed ProjectChanges (with where the client gave each field: the seed takes a
known property at the top level or inside customProperties), domain Projects become messages, and
the errors of the domain, which name its attributes (`target_end_date`), are renamed to the JSON
path the client wrote (`customProperties.targetEndDate`).
"""

import contextlib
import re
from typing import Any, Callable, Iterator

import nh3

from portal.projects.v1 import projects_pb2
from portal_common.currencies import MAX_MINOR_UNITS, check_currency
from portal_common.domain_errors import DomainError, InvalidArgument
from portal_common.event_json import message_object
from portal_common.json_values import whole_number
from portal_common.timestamps import check_timestamp
from portal_common.wire import repeated_message_field
from projects.domain import model
from projects.domain.model import Budget, Project, ProjectChanges
from projects.queries import ProjectFilter, ProjectPage

_CUSTOM_PROPERTIES = "customProperties"
_BUDGET_KEYS = ("amount", "amountInMinorUnits", "currency")


def _date(value, field: str) -> int | None:
    return None if value is None else check_timestamp(value, field)


def budget(value, field: str) -> Budget | None:
    """`{amount, currency}` as in the seed, or `{amountInMinorUnits, currency}`, which carries
    every amount exactly (a JSON number in major units past 15 digits may not), or both if they
    agree."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be an object with amount and currency", field=field)
    for key in value:
        if key not in _BUDGET_KEYS:
            raise InvalidArgument(
                f"unknown field {field}.{key}; a budget has {', '.join(_BUDGET_KEYS)}", field=f"{field}.{key}"
            )
    currency_field, amount_field, minor_field = (
        f"{field}.{key}" for key in ("currency", "amount", "amountInMinorUnits")
    )
    if value.get("currency") is None:
        raise InvalidArgument(f"{currency_field} is required", field=currency_field)
    if not isinstance(value["currency"], str):
        raise InvalidArgument(f"{currency_field} must be a string", field=currency_field)
    currency = check_currency(value["currency"], currency_field)
    amount, sent_minor_units = value.get("amount"), value.get("amountInMinorUnits")
    if sent_minor_units is None:
        if amount is None:
            raise InvalidArgument(f"{amount_field} (or {minor_field}) is required", field=amount_field)
        return Budget.of_amount(amount, currency, amount_field)
    minor_units = whole_number(sent_minor_units, minor_field, 0, MAX_MINOR_UNITS)
    if amount is None:
        return Budget(minor_units, currency)
    given = Budget.of_amount(amount, currency, amount_field)
    if minor_units != given.minor_units:
        raise InvalidArgument(
            f"{minor_field} {minor_units} and {amount_field} {amount!r} differ; give one of "
            "them, or both with the same value",
            field=minor_field,
        )
    return given


def _sanitized_html(value, field: str) -> str | None:
    """Rich text with nh3's (ammonia's) safe defaults: no scripts, styles, event handlers or
    javascript: URLs; links get rel="noopener noreferrer"."""
    html = model.clean_rich_text(value, field)
    return (nh3.clean(html).strip() or None) if html else None


Reader = Callable[[object, str], object]
# The fields of a POST or PATCH body, named as in the REST API, with the attribute of Project each
# sets and how its value is read. `type` is checked and not stored: it is always "project".
_FIELDS: dict[str, tuple[str | None, Reader]] = {
    "type": (None, model.clean_type),
    "name": ("name", model.clean_name),
    "description": ("description", model.clean_description),
    "subtype": ("subtype", model.clean_subtype),
    "status": ("status", model.clean_status),
}
# The known properties, taken at the top level (the seed's createProject and updateProject inputs)
# or inside customProperties (the seed's stored Project Data Structure), read alike.
_PROPERTIES: dict[str, tuple[str, Reader]] = {
    "startDate": ("start_date", _date),
    "targetEndDate": ("target_end_date", _date),
    "budget": ("budget", budget),
    "priority": ("priority", model.clean_priority),
    "progress": ("progress", model.clean_progress),
    "clientOrgId": ("client_org_id", model.clean_reference),
    "detailedDescription": ("detailed_description", _sanitized_html),
}
# Fields of a project that the service sets itself (projectCode belongs in customProperties, but
# is refused anywhere).
_ASSIGNED = {"_id", "organizationId", "createdBy", "createdAt", "updatedAt", "projectCode"}
# Where each attribute is in a project's JSON: what an error about an attribute that the request
# did not give names.
_JSON_PATHS = {
    **{attribute: key for key, (attribute, _) in _FIELDS.items() if attribute},
    **{attribute: f"{_CUSTOM_PROPERTIES}.{key}" for key, (attribute, _) in _PROPERTIES.items()},
    "free_properties": _CUSTOM_PROPERTIES,
}

GivenAt = dict[str, str]
"""The JSON path at which a request gave each attribute of ProjectChanges."""


def project_changes(body: dict) -> tuple[ProjectChanges, GivenAt]:
    """The checked changes of a POST or PATCH body (a JSON object), and where each was given; every
    key is known, or a 400 names it as the client wrote it."""
    # Each value as the reader of its attribute returned it: its type is that of the attribute.
    values: dict[str, Any] = {}
    given_at: GivenAt = {}
    free_properties: dict[str, object] = {}

    def set_value(attribute: str, value, path: str) -> None:
        if attribute in values and values[attribute] != value:
            first = given_at[attribute]
            raise InvalidArgument(
                f"{first} is given twice with different values, as {first} and as {path}; give "
                "it once, or the same value in both places",
                field=first,
            )
        values[attribute] = value
        given_at.setdefault(attribute, path)

    # Top-level keys first, so that a property given twice is named as its top-level key.
    for key, value in sorted(body.items(), key=lambda item: item[0] == _CUSTOM_PROPERTIES):
        if key == _CUSTOM_PROPERTIES:
            _read_custom_properties(value, set_value, free_properties)
        elif key in _FIELDS or key in _PROPERTIES:
            attribute, read = _FIELDS.get(key) or _PROPERTIES[key]
            value = read(value, key)
            if attribute:
                set_value(attribute, value, key)
        elif key in _ASSIGNED:
            raise InvalidArgument(f"{key} is set by the service and cannot be given", field=key)
        else:
            raise InvalidArgument(
                f"unknown field {key}; the fields are {', '.join([*_FIELDS, *_PROPERTIES])} and {_CUSTOM_PROPERTIES}",
                field=key,
            )
    return ProjectChanges(**values, free_properties=free_properties), given_at


def _read_custom_properties(properties, set_value: Callable[[str, object, str], None], free_properties: dict) -> None:
    if not isinstance(properties, dict):
        raise InvalidArgument(f"{_CUSTOM_PROPERTIES} must be an object", field=_CUSTOM_PROPERTIES)
    for name, value in properties.items():
        path = f"{_CUSTOM_PROPERTIES}.{name}"
        if name in _PROPERTIES:
            attribute, read = _PROPERTIES[name]
            set_value(attribute, read(value, path), path)
        elif name == "projectCode":
            raise InvalidArgument(f"{path} is set by the service and cannot be given", field=path)
        elif name in _FIELDS or name in _ASSIGNED or name == _CUSTOM_PROPERTIES:
            # A free-form key named like a field of the project would look set but change nothing.
            raise InvalidArgument(
                f"{path}: {name} is a field of the project, not a property; give it at the top level", field=path
            )
        else:
            free_properties[name] = value


_HEAD = re.compile(r"[^.\[]+")


@contextlib.contextmanager
def client_paths(given_at: GivenAt) -> Iterator[None]:
    """Renames the field of a domain error raised inside the block (an attribute of the project,
    `free_properties.tags[1]`) to where the client gave it or, if it did not, to where the API
    shows it (`customProperties.tags[1]`), in the error's message too."""
    try:
        yield
    except DomainError as error:
        if error.field and (head_match := _HEAD.match(error.field)):
            head = head_match.group()
            path = given_at.get(head) or _JSON_PATHS.get(head, head)
            path += error.field[len(head) :]
            error.message, error.field = error.message.replace(error.field, path), path
        raise


def project_filter(request: projects_pb2.ListProjectsRequest) -> ProjectFilter:
    return ProjectFilter(
        status=request.status,
        subtype=request.subtype,
        priority=request.priority,
        client_org_id=request.client_org_id,
        search=request.search,
    )


def project_message(project: Project) -> projects_pb2.Project:
    message = projects_pb2.Project(
        id=project.id,
        organization_id=project.organization_id,
        type="project",
        subtype=project.subtype,
        name=project.name,
        description=project.description,
        status=project.status,
        created_by=project.created_by,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )
    message.custom_properties.update(custom_properties(project))
    return message


def custom_properties(project: Project) -> dict:
    """The seed's customProperties: the free-form keys and the known properties that have a value.
    (A Struct holds numbers as doubles: whole numbers up to 2^53 stay exact.)"""
    budget = project.budget
    known = {
        "projectCode": project.project_code,
        "startDate": project.start_date,
        "targetEndDate": project.target_end_date,
        "budget": {
            "amount": float(budget.amount),
            "amountInMinorUnits": budget.minor_units,
            "currency": budget.currency,
        }
        if budget
        else None,
        "priority": project.priority,
        "progress": project.progress,
        "clientOrgId": project.client_org_id,
        "detailedDescription": project.detailed_description,
    }
    return {**project.free_properties, **{key: value for key, value in known.items() if value is not None}}


def project_view(project: Project) -> bytes:
    """The read model stored with each project (see projects.queries): its message, serialized."""
    return project_message(project).SerializeToString()


def event_object(project: Project) -> dict:
    """A project as an event's `data.object`: what GET answers for it (portal_common.outbox)."""
    return message_object(project_message(project))


def project_from_view(view: bytes) -> projects_pb2.Project:
    return projects_pb2.Project.FromString(view)


_PROJECTS_FIELD = projects_pb2.ListProjectsResponse.DESCRIPTOR.fields_by_name["projects"].number


def project_page_message(page: ProjectPage, limit: int, offset: int) -> projects_pb2.ListProjectsResponse:
    # The stored views parse at once as the bytes of the repeated field (see portal_common.wire).
    response = projects_pb2.ListProjectsResponse.FromString(repeated_message_field(_PROJECTS_FIELD, page.views))
    response.total, response.limit, response.offset = page.total, limit, offset
    return response
