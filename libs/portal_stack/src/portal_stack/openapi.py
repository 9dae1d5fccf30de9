"""Generates the OpenAPI 3.1 description of the REST surface from the descriptor set Envoy loads.

Python over descriptor_pb2, since grpc-gateway's generators (protoc-gen-openapiv2 and kin) are Go
and not installable here. The contract is read where it lives: the services, their methods and
`google.api.http` rules (additional bindings included), the messages with their JSON names, and
the proto comments (`--include_source_info`) as descriptions. What the descriptor set cannot say
is declared in the tables below, each checked by tests/openapi against the code that decides it:
which input message a `google.protobuf.Struct` body is read into, the status a method answers
with when not 200, which credentials a method takes, which POSTs take an Idempotency-Key, and the
resource that each webhook event carries.

Usage: python -m portal_stack.openapi [DESCRIPTOR_SET] [OUTPUT]  (build/gen/portal.pb, build/openapi.json)
"""

import dataclasses
import json
import pathlib
import re
import sys
import textwrap
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from portal_common.event_types import EVENT_TYPES

REPO = pathlib.Path(__file__).resolve().parents[4]
DESCRIPTOR = REPO / "build" / "gen" / "portal.pb"
SPEC = REPO / "build" / "openapi.json"

Schema = dict[str, Any]

# The portal's own packages (the descriptor set also holds google's). Internal services have no
# http rules, and so no operations.
PACKAGE_PREFIX = "portal."

# Each Struct request field that carries a REST body, by its full name, and what the service reads
# it as: an input message (read strictly: unknown fields are 400s), or one of the bodies below that
# no message describes.
NO_FIELDS = "no fields"
CONTACT_CHANGES = "contact changes"
PROJECT_BODY = "project body"
BODY_MESSAGES: dict[str, str] = {
    "portal.auth.v1.SyncUserRequest.user": "portal.auth.v1.SyncUserInput",
    "portal.auth.v1.UpdatePortalUserRequest.changes": "portal.auth.v1.PortalUserChanges",
    "portal.auth.v1.UpdateOrganizationRequest.changes": "portal.auth.v1.OrganizationChanges",
    "portal.auth.v1.EndPortalUserSessionsRequest.body": NO_FIELDS,
    "portal.auth.v1.ValidateTokenRequest.body": NO_FIELDS,
    "portal.auth.v1.LogoutRequest.body": NO_FIELDS,
    "portal.crm.v1.UpsertContactRequest.contact": "portal.crm.v1.ContactInput",
    "portal.crm.v1.CreateContactFromEventRequest.registration": "portal.crm.v1.EventRegistrationInput",
    "portal.crm.v1.UpdateContactRequest.changes": CONTACT_CHANGES,
    "portal.projects.v1.CreateProjectRequest.project": PROJECT_BODY,
    "portal.projects.v1.UpdateProjectRequest.changes": PROJECT_BODY,
    "portal.projects.v1.ArchiveProjectRequest.body": NO_FIELDS,
    "portal.invoicing.v1.CreateInvoiceRequest.invoice": "portal.invoicing.v1.InvoiceInput",
    "portal.invoicing.v1.UpdateInvoiceRequest.changes": "portal.invoicing.v1.InvoiceInput",
    "portal.invoicing.v1.SendInvoiceRequest.body": "portal.invoicing.v1.SendInput",
    "portal.invoicing.v1.PayInvoiceRequest.body": "portal.invoicing.v1.PayInput",
    "portal.invoicing.v1.CancelInvoiceRequest.body": "portal.invoicing.v1.CancelInput",
    "portal.invoicing.v1.CreateInvoiceEmailRequest.body": "portal.invoicing.v1.CreateInvoiceEmailInput",
    "portal.invoicing.v1.CreatePaymentConnectionRequest.body": "portal.invoicing.v1.PaymentConnectionInput",
    "portal.invoicing.v1.RotatePaymentConnectionSecretRequest.body": "portal.invoicing.v1.RotateSecretInput",
    "portal.events.v1.CreateWebhookEndpointRequest.body": "portal.events.v1.WebhookEndpointInput",
    "portal.events.v1.UpdateWebhookEndpointRequest.body": "portal.events.v1.WebhookEndpointChanges",
    "portal.events.v1.RotateWebhookEndpointSecretRequest.body": NO_FIELDS,
    "portal.events.v1.RetryWebhookDeliveryRequest.body": NO_FIELDS,
    "portal.events.v1.RecoverWebhookEventsRequest.body": "portal.events.v1.RecoverInput",
    "portal.events.v1.SendWebhookTestEventRequest.body": NO_FIELDS,
}

# The Contact fields PATCH /api/v1/crm/contacts/{contactId} changes (crm.api.mapping._PATCHABLE).
CONTACT_PATCHABLE = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "subtype",
    "status",
    "source",
    "source_ref",
    "tags",
    "notes",
    "custom_fields",
    "crm_organization_id",
    "portal_access",
)

# Success statuses other than 200, set by the servicers (x-portal-http-status, rest_shape.lua).
# Two statuses: created, or updated (an upsert).
SUCCESS_STATUSES: dict[str, tuple[int, ...]] = {
    "portal.auth.v1.PortalAuthService.SyncUser": (201, 200),
    "portal.crm.v1.CrmService.UpsertContact": (201, 200),
    "portal.crm.v1.CrmService.CreateContactFromEvent": (201, 200),
    "portal.projects.v1.ProjectsService.CreateProject": (201,),
    "portal.invoicing.v1.InvoicingService.CreateInvoice": (201,),
    "portal.invoicing.v1.InvoicingService.CreateInvoiceEmail": (202,),
    "portal.invoicing.v1.PaymentsService.CreatePaymentConnection": (201,),
    "portal.events.v1.WebhookEndpointsService.CreateWebhookEndpoint": (201,),
    "portal.events.v1.WebhookEndpointsService.SendWebhookTestEvent": (202,),
}

# Who may call: every method takes the organization's API key unless named here (the services'
# AuthInterceptor settings: portal_user_methods, api_key_methods, public methods).
API_KEY, PORTAL_SESSION = "apiKey", "portalSession"
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "portal.auth.v1.PortalAuthService.ValidateToken": (PORTAL_SESSION,),
    "portal.auth.v1.PortalAuthService.GetCurrentUser": (PORTAL_SESSION,),
    "portal.auth.v1.PortalAuthService.Logout": (PORTAL_SESSION,),
    "portal.crm.v1.CrmService.GetContact": (API_KEY, PORTAL_SESSION),
    "portal.projects.v1.ProjectsService.ListProjects": (API_KEY, PORTAL_SESSION),
    "portal.projects.v1.ProjectsService.GetProject": (API_KEY, PORTAL_SESSION),
    "portal.invoicing.v1.InvoicingService.ListInvoices": (API_KEY, PORTAL_SESSION),
    "portal.invoicing.v1.InvoicingService.GetInvoice": (API_KEY, PORTAL_SESSION),
    "portal.invoicing.v1.InvoicingService.GetInvoicePdf": (API_KEY, PORTAL_SESSION),
    "portal.invoicing.v1.InvoicingService.ListContactInvoices": (API_KEY, PORTAL_SESSION),
    "portal.invoicing.v1.InvoicingService.ListCrmOrganizationInvoices": (API_KEY, PORTAL_SESSION),
    "portal.invoicing.v1.PaymentsService.ReceivePaymentWebhook": (),
}

# The services whose POSTs take an Idempotency-Key (an IdempotencyInterceptor guards them; see
# portal_common.idempotency.takes_keys), less the public methods.
IDEMPOTENT_SERVICES = frozenset(
    {
        "portal.crm.v1.CrmService",
        "portal.projects.v1.ProjectsService",
        "portal.invoicing.v1.InvoicingService",
        "portal.invoicing.v1.PaymentsService",
        "portal.events.v1.WebhookEndpointsService",
    }
)

# Webhook events (portal_common.event_types.EVENT_TYPES): the resource that data.object holds, by the
# part of the type before the dot.
EVENT_OBJECTS = {
    "contact": "portal.crm.v1.Contact",
    "crm_organization": "portal.crm.v1.Organization",
    "project": "portal.projects.v1.Project",
    "invoice": "portal.invoicing.v1.Invoice",
    "portal_user": "portal.auth.v1.FrontendUser",
    "webhook_endpoint": "portal.events.v1.WebhookEndpoint",
}
# Event types whose data holds more beside `object` (docs/events.md).
EVENT_EXTRAS = {"invoice.email_failed": {"email": "portal.invoicing.v1.InvoiceEmail"}}

# Responses that Envoy routes to another method besides its rule: GET /api/v1/invoices/{id} with
# `Accept: application/pdf` is answered by GetInvoicePdf (gateway/envoy.yaml.in).
ALSO_PDF = frozenset({"portal.invoicing.v1.InvoicingService.GetInvoice"})

ERROR_STATUSES = {
    400: "The request is invalid: `field` names the offending field by its JSON path, as written.",
    401: "The credential is missing, unknown, revoked or expired.",
    403: "The credential may not call this operation (a portal session where an API key is needed, or the reverse).",
    404: "No such resource in the caller's organization (or no such route).",
    409: "Conflict with the resource's current state, or a request with the same Idempotency-Key is still running.",
    413: "The request body is too large (1 MiB; 256 KiB for payment webhooks).",
    422: "The Idempotency-Key was used with another request.",
    429: "Rate limited: retry after the number of seconds in Retry-After.",
    503: "A service is unavailable (down, or too busy): retry after the seconds in Retry-After.",
    504: "A service did not answer in time: retry after the seconds in Retry-After.",
}

_INPUT_SUFFIXES = ("Input", "Changes")
_HTTP_METHODS = ("get", "put", "post", "delete", "patch")
_MONEY = re.compile(r"_in_cents$")
_TYPES = descriptor_pb2.FieldDescriptorProto
_INTEGERS_32 = {_TYPES.TYPE_INT32, _TYPES.TYPE_SINT32, _TYPES.TYPE_SFIXED32, _TYPES.TYPE_UINT32, _TYPES.TYPE_FIXED32}
_INTEGERS_64 = {_TYPES.TYPE_INT64, _TYPES.TYPE_SINT64, _TYPES.TYPE_SFIXED64, _TYPES.TYPE_UINT64, _TYPES.TYPE_FIXED64}


@dataclasses.dataclass(frozen=True)
class Route:
    """One binding of an http rule: an operation of the REST surface."""

    method: str  # get, post, ...
    template: str  # the rule's path, /api/v1/crm/contacts/{contact_id}
    body: str  # the rule's body: "", "*" or a field name
    rpc: str  # full name: portal.crm.v1.CrmService.GetContact
    input_type: str
    output_type: str
    binding: int  # 0 for the rule itself, n for its n-th additional binding

    @property
    def path_fields(self) -> list[str]:
        return [name.split("=")[0] for name in re.findall(r"{([^}]+)}", self.template)]


class Descriptors:
    """The messages, services and comments of a descriptor set."""

    def __init__(self, descriptor_set: descriptor_pb2.FileDescriptorSet):
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        self.services: list[tuple[str, descriptor_pb2.ServiceDescriptorProto]] = []
        for file in descriptor_set.file:
            self._index(file)

    @classmethod
    def read(cls, path: pathlib.Path = DESCRIPTOR) -> "Descriptors":
        return cls(descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()))

    def _index(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        comments = {tuple(loc.path): _comment(loc) for loc in file.source_code_info.location}

        def messages(prefix: str, path: tuple[int, ...], message_types) -> None:
            for index, message in enumerate(message_types):
                name = f"{prefix}.{message.name}"
                self.messages[name] = message
                self.comments[name] = comments.get((*path, index), "")
                for field_index, field in enumerate(message.field):
                    self.comments[f"{name}.{field.name}"] = comments.get((*path, index, 2, field_index), "")
                messages(name, (*path, index, 3), message.nested_type)
                for enum in message.enum_type:
                    self.enums[f"{name}.{enum.name}"] = enum

        messages(file.package, (4,), file.message_type)
        for enum in file.enum_type:
            self.enums[f"{file.package}.{enum.name}"] = enum
        for index, service in enumerate(file.service):
            name = f"{file.package}.{service.name}"
            self.comments[name] = comments.get((6, index), "")
            for method_index, method in enumerate(service.method):
                self.comments[f"{name}.{method.name}"] = comments.get((6, index, 2, method_index), "")
            if file.package.startswith(PACKAGE_PREFIX):
                self.services.append((name, service))

    def routes(self) -> list[Route]:
        """Every binding of every http rule of the portal's services."""
        found = []
        for service_name, service in self.services:
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                for binding, bound in enumerate((rule, *rule.additional_bindings)):
                    verb, template = _verb(bound)
                    found.append(
                        Route(
                            verb,
                            template,
                            bound.body,
                            f"{service_name}.{method.name}",
                            method.input_type.lstrip("."),
                            method.output_type.lstrip("."),
                            binding,
                        )
                    )
        return found


def _comment(location: descriptor_pb2.SourceCodeInfo.Location) -> str:
    # protoc keeps the space after `//`: dedent, so that the indentation within a comment stays.
    return textwrap.dedent(location.leading_comments or location.trailing_comments).strip()


def _verb(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        return rule.custom.kind.lower(), rule.custom.path
    if kind not in _HTTP_METHODS:
        raise ValueError(f"unsupported http rule pattern {kind}")
    return kind, getattr(rule, kind)


class Generator:
    """Builds the document; schemas are collected as operations refer to them."""

    def __init__(self, descriptors: Descriptors):
        self.d = descriptors
        self.schemas: dict[str, Schema] = {}
        self.schema_names = self._schema_names()
        self.routes = descriptors.routes()
        self.method_names = [route.rpc.rsplit(".", 1)[1] for route in self.routes if route.binding == 0]

    # -- names ---------------------------------------------------------------------------------
    def _schema_names(self) -> dict[str, str]:
        """The component name of every portal message: its own name, or, when two packages both
        have one of that name, prefixed with its service's name (CrmAddress, InvoicingAddress)."""
        portal = [name for name in self.d.messages if name.startswith(PACKAGE_PREFIX)]
        short: dict[str, list[str]] = {}
        for name in portal:
            short.setdefault(name.rsplit(".", 1)[1], []).append(name)
        names = {}
        for name in portal:
            simple = name.rsplit(".", 1)[1]
            names[name] = simple if len(short[simple]) == 1 else name.split(".")[1].capitalize() + simple
        return names

    def ref(self, message: str, *, as_input: bool) -> Schema:
        """A reference to the message's schema, made on first use. A message read from request
        bodies (strict, nullable fields) and one printed in responses are two schemas: the former
        is named with an `Input` suffix unless its name says so already (OrganizationAddressInput)."""
        name = self.schema_names[message]
        if as_input and not name.endswith(_INPUT_SUFFIXES):
            name += "Input"
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder against recursion (InvoiceInput holds one)
            self.schemas[name] = self.message_schema(message, as_input=as_input)
        return {"$ref": f"#/components/schemas/{name}"}

    # -- schemas -------------------------------------------------------------------------------
    def message_schema(self, message: str, *, as_input: bool, only: tuple[str, ...] = ()) -> Schema:
        """The JSON object of a message as the gateway prints it (responses: every non-optional
        scalar and list is printed, as always_print_primitive_fields does), or as a service reads
        it strictly from a Struct body (inputs: nothing else is accepted; null means not given)."""
        descriptor = self.d.messages[message]
        properties: dict[str, Schema] = {}
        required = []
        for field in descriptor.field:
            if only and field.name not in only:
                continue
            property_schema = self.field_schema(field, as_input=as_input)
            if description := self.d.comments.get(f"{message}.{field.name}"):
                property_schema = {**property_schema, "description": description}  # 3.1: beside a $ref too
            properties[field.json_name] = property_schema
            printed_always = not field.proto3_optional and (
                field.label == _TYPES.LABEL_REPEATED or field.type != _TYPES.TYPE_MESSAGE
            )
            if printed_always and not as_input:
                required.append(field.json_name)
        schema: Schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if as_input:
            schema["additionalProperties"] = False
        if description := self.d.comments.get(message):
            schema["description"] = description
        return schema

    def field_schema(self, field: descriptor_pb2.FieldDescriptorProto, *, as_input: bool) -> Schema:
        type_name = field.type_name.lstrip(".")
        if field.type == _TYPES.TYPE_MESSAGE and self.d.messages[type_name].options.map_entry:
            value = next(f for f in self.d.messages[type_name].field if f.name == "value")
            return {"type": "object", "additionalProperties": self.field_schema(value, as_input=as_input)}
        item = self.single_schema(field, as_input=as_input)
        if field.label == _TYPES.LABEL_REPEATED:
            return {"type": "array", "items": item}
        if as_input:  # proto3 JSON reads null as "not given"
            return _nullable(item)
        return item

    def single_schema(self, field: descriptor_pb2.FieldDescriptorProto, *, as_input: bool) -> Schema:
        kind = field.type
        if kind == _TYPES.TYPE_STRING:
            return {"type": "string"}
        if kind == _TYPES.TYPE_BOOL:
            return {"type": "boolean"}
        if kind in _INTEGERS_32:
            return {"type": "integer", "format": "int32"}
        if kind in _INTEGERS_64:
            # The gateway prints 64-bit integers as strings; bodies read by the services take
            # numbers (money: 0 to 2^53-1).
            if as_input:
                return {"type": "integer", "format": "int64"}
            return {"type": "string", "format": "int64"}
        if kind in (_TYPES.TYPE_DOUBLE, _TYPES.TYPE_FLOAT):
            # Money is carried as doubles holding whole minor units: printed as integers.
            if _MONEY.search(field.name):
                return {"type": "integer"}
            return {"type": "number"}
        if kind == _TYPES.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        if kind == _TYPES.TYPE_ENUM:
            enum = self.d.enums[field.type_name.lstrip(".")]
            return {"type": "string", "enum": [value.name for value in enum.value]}
        return self.message_ref(field.type_name.lstrip("."), as_input=as_input)

    def message_ref(self, message: str, *, as_input: bool) -> Schema:
        if message == "google.protobuf.Struct":
            return {"type": "object", "additionalProperties": True}
        if message == "google.protobuf.Value":
            return {}
        if message == "google.protobuf.ListValue":
            return {"type": "array"}
        if message == "google.protobuf.Empty":
            return {"type": "object", "maxProperties": 0}
        if message.startswith("google."):
            raise ValueError(f"no JSON schema for {message}")
        return self.ref(message, as_input=as_input)

    # -- request bodies ------------------------------------------------------------------------
    def struct_body(self, request_field: str) -> Schema:
        target = BODY_MESSAGES[request_field]
        if target == NO_FIELDS:
            return {"type": "object", "additionalProperties": False, "maxProperties": 0, "description": "No fields."}
        if target == CONTACT_CHANGES:
            schema = self.message_schema("portal.crm.v1.Contact", as_input=True, only=CONTACT_PATCHABLE)
            schema["description"] = (
                "The contact fields to change, named as in Contact; null clears an optional one. "
                "Any other field is refused (400 naming it)."
            )
            return schema
        if target == PROJECT_BODY:
            return self.project_body()
        return self.ref(target, as_input=True)

    def project_body(self) -> Schema:
        """CreateProjectRequest.project: a Struct whose keys the projects service reads itself."""
        if "ProjectInput" not in self.schemas:
            nullable_string = {"type": ["string", "null"]}
            date = {"type": ["number", "null"], "description": "Unix milliseconds"}
            known = {
                "startDate": date,
                "targetEndDate": date,
                "budget": {"$ref": "#/components/schemas/ProjectBudget"},
                "priority": {"type": ["string", "null"], "enum": ["low", "medium", "high", "critical", None]},
                "progress": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
                "clientOrgId": nullable_string,
                "detailedDescription": nullable_string,
            }
            self.schemas["ProjectBudget"] = {
                "type": ["object", "null"],
                "properties": {
                    "amount": {"type": "number", "description": "major units"},
                    "amountInMinorUnits": {"type": "integer", "maximum": 2**53 - 1},
                    "currency": {"type": "string", "description": "ISO 4217"},
                },
                "additionalProperties": False,
            }
            self.schemas["ProjectInput"] = {
                "type": "object",
                "description": self.d.comments["portal.projects.v1.CreateProjectRequest.project"],
                "properties": {
                    "type": {"type": ["string", "null"], "enum": ["project", None]},
                    "subtype": {"type": "string"},
                    "name": {"type": "string"},
                    "description": nullable_string,
                    "status": {"type": ["string", "null"]},
                    **known,
                    "customProperties": {
                        "type": ["object", "null"],
                        "properties": known,
                        "additionalProperties": True,
                    },
                },
                "additionalProperties": False,
            }
        return {"$ref": "#/components/schemas/ProjectInput"}

    def request_body(self, route: Route) -> Schema | None:
        request = self.d.messages[route.input_type]
        if not route.body:
            return None
        if route.body == "*":
            fields = [f for f in request.field if f.name not in route.path_fields]
            properties = {f.json_name: self.field_schema(f, as_input=True) for f in fields}
            # A typed body: the transcoder ignores fields it does not know.
            return {
                "required": False,
                "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
            }
        field = next(f for f in request.field if f.name == route.body)
        if field.type_name == ".google.api.HttpBody":
            return {
                "required": True,
                "description": "The raw body exactly as the provider sent it (its signature covers these bytes).",
                "content": {"application/json": {"schema": {}}},
            }
        full = f"{route.input_type}.{field.name}"
        if field.type_name != ".google.protobuf.Struct":
            raise ValueError(
                f"{full}: a typed body loses the fields the transcoder does not know; take a "
                "google.protobuf.Struct read strictly into an input message (docs/api.md, Conventions)"
            )
        if full not in BODY_MESSAGES:
            raise ValueError(f"{full}: name the input message this body is read into in BODY_MESSAGES")
        # The transcoder reads no body, `{}` and `null` alike (an unset Struct): the service sees an
        # empty object, which a body with required fields refuses (400 naming the field).
        return {
            "required": False,
            "description": "No body, or `null`, reads as `{}`.",
            "content": {"application/json": {"schema": _nullable(self.struct_body(full))}},
        }

    # -- parameters ----------------------------------------------------------------------------
    def parameters(self, route: Route) -> list[Schema]:
        request = self.d.messages[route.input_type]
        by_name = {f.name: f for f in request.field}
        params = []
        for name in route.path_fields:
            field = by_name[name]
            params.append(
                {
                    "name": field.json_name,
                    "in": "path",
                    "required": True,
                    "schema": self.single_schema(field, as_input=True),
                }
            )
        if route.body == "*":
            return params
        for field in request.field:
            if field.name in route.path_fields or field.name == route.body or field.type == _TYPES.TYPE_MESSAGE:
                continue
            param: Schema = {"name": field.json_name, "in": "query", "required": False}
            item = self.single_schema(field, as_input=True)
            if field.label == _TYPES.LABEL_REPEATED:
                # Given once, values comma-separated (rest_shape.lua refuses a repeated parameter).
                param.update(schema={"type": "array", "items": item}, style="form", explode=False)
            else:
                param["schema"] = item
            if description := self.d.comments.get(f"{route.input_type}.{field.name}"):
                param["description"] = description
            params.append(param)
        return params

    # -- operations ----------------------------------------------------------------------------
    def operation(self, route: Route, tag: str) -> Schema:
        method_name = route.rpc.rsplit(".", 1)[1]
        if self.method_names.count(method_name) > 1:  # GetOrganization: AuthGetOrganization, CrmGetOrganization
            method_name = route.rpc.split(".")[1].capitalize() + method_name
        credentials = CREDENTIALS.get(route.rpc, (API_KEY,))
        idempotent = route.method == "post" and route.rpc.rsplit(".", 1)[0] in IDEMPOTENT_SERVICES and credentials != ()
        operation: Schema = {
            "operationId": method_name if route.binding == 0 else f"{method_name}{route.binding}",
            "tags": [tag],
            "security": [{name: []} for name in credentials],
        }
        # The RPC's name in words (ListContacts: "List contacts"); its comment is the description.
        words = re.findall(r"[A-Z][a-z]*", route.rpc.rsplit(".", 1)[1])
        operation["summary"] = " ".join([words[0], *(word.lower() for word in words[1:])])
        if description := self.d.comments.get(route.rpc, ""):
            operation["description"] = description
        parameters = self.parameters(route)
        if idempotent:
            parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
        if parameters:
            operation["parameters"] = parameters
        if (body := self.request_body(route)) is not None:
            operation["requestBody"] = body
        operation["responses"] = self.responses(route, credentials, idempotent)
        return operation

    def responses(self, route: Route, credentials: tuple[str, ...], idempotent: bool) -> Schema:
        responses: Schema = {}
        for status in SUCCESS_STATUSES.get(route.rpc, (200,)):
            responses[str(status)] = self.success(route, status, idempotent)
        errors = [400, 404, 429, 503, 504]
        if credentials:
            errors += [401, 403]
        if route.method != "get":
            errors.append(409)
        if route.body:
            errors.append(413)
        if idempotent:
            errors.append(422)
        for status in sorted(errors):
            responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
        return responses

    def success(self, route: Route, status: int, idempotent: bool) -> Schema:
        descriptions = {200: "OK", 201: "Created", 202: "Accepted"}
        answer: Schema = {"description": descriptions[status]}
        if route.output_type == "google.api.HttpBody":
            answer["headers"] = {"Content-Disposition": {"$ref": "#/components/headers/ContentDisposition"}}
            answer["content"] = {
                "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}
            }
        else:
            content: Schema = {"application/json": {"schema": self.message_ref(route.output_type, as_input=False)}}
            if route.rpc in ALSO_PDF:
                content["application/pdf"] = {"schema": {"type": "string", "contentMediaType": "application/pdf"}}
            answer["content"] = content
        if idempotent:
            answer["headers"] = {"Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}}
        return answer

    # -- the document --------------------------------------------------------------------------
    def document(self) -> Schema:
        paths: dict[str, Schema] = {}
        tags = []
        for service_name, _ in self.d.services:
            tag = service_name.split(".")[-1]
            if any(route.rpc.startswith(service_name + ".") for route in self.routes):
                tags.append({"name": tag, "description": self.d.comments.get(service_name, "")})
        for route in self.routes:
            tag = route.rpc.split(".")[-2]
            path = openapi_path(route.template, self.d.messages[route.input_type])
            if route.method in paths.get(path, {}):
                raise ValueError(f"two rules for {route.method.upper()} {path}")
            paths.setdefault(path, {})[route.method] = self.operation(route, tag)
        webhooks = self.webhooks()
        error_responses = self.error_responses()
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Client portal API",
                "version": "v1",
                "description": (
                    "Generated from the protobuf contracts (build/gen/portal.pb) by portal_stack.openapi; "
                    "never edited by hand. Timestamps are Unix milliseconds; money is integer minor units "
                    "of its currency (ISO 4217)."
                ),
            },
            "servers": [{"url": "/", "description": "the gateway serving this document"}],
            "tags": tags,
            "paths": dict(sorted(paths.items())),
            "webhooks": webhooks,
            "components": {
                "schemas": dict(sorted(self.schemas.items())),
                "responses": error_responses,
                "parameters": {
                    "IdempotencyKey": {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": (
                            "Sent again with the same key within 24 hours, the request gets the first answer "
                            "again (with Idempotent-Replayed: true) instead of being carried out twice "
                            "(docs/idempotency.md)."
                        ),
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    },
                    **_webhook_header_parameters(),
                },
                "headers": {
                    "IdempotentReplayed": {
                        "description": "true when the answer is a replay of the first one under the Idempotency-Key.",
                        "schema": {"type": "string", "enum": ["true"]},
                    },
                    "ContentDisposition": {
                        "description": "attachment, naming the file after the invoice number.",
                        "schema": {"type": "string"},
                    },
                    "RetryAfter": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
                },
                "securitySchemes": {
                    API_KEY: {
                        "type": "http",
                        "scheme": "bearer",
                        "bearerFormat": "pk_...",
                        "description": "The organization's API key: `Authorization: Bearer pk_...`.",
                    },
                    PORTAL_SESSION: {
                        "type": "http",
                        "scheme": "bearer",
                        "bearerFormat": "ps_...",
                        "description": (
                            "A portal user's session token (sessionToken of POST /api/v1/auth/sync-user): "
                            "`Authorization: Bearer ps_...`."
                        ),
                    },
                },
            },
        }

    def error_responses(self) -> Schema:
        self.schemas["Error"] = {
            "type": "object",
            "description": "Every error answer: what went wrong, its code, and the field at fault.",
            "properties": {
                "error": {"type": "string", "description": "A message for people."},
                "code": {"type": "string", "description": "A stable code (INVALID_ARGUMENT, NOT_FOUND...)."},
                "field": {
                    "type": "string",
                    "description": "The offending field's JSON path as the client wrote it (lineItems[2].unitPriceInCents).",
                },
            },
            "required": ["error"],
        }
        responses = {}
        for status, description in ERROR_STATUSES.items():
            response: Schema = {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            if status in (429, 503, 504):
                response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
            responses[f"Error{status}"] = response
        return dict(sorted(responses.items()))

    def webhooks(self) -> Schema:
        """Each event type as an OpenAPI 3.1 webhook: the POST a webhook endpoint receives."""
        event_comment = self.d.comments.get("portal.events.v1.Event", "")
        hooks = {}
        for event_type in EVENT_TYPES:
            resource = EVENT_OBJECTS[event_type.split(".")[0]]
            data: Schema = {
                "type": "object",
                "properties": {"object": self.ref(resource, as_input=False)},
                "required": ["object"],
            }
            for name, message in EVENT_EXTRAS.get(event_type, {}).items():
                data["properties"][name] = self.ref(message, as_input=False)
                data["required"].append(name)
            hooks[event_type] = {
                "post": {
                    "operationId": "event_" + event_type.replace(".", "_"),
                    "summary": f"{event_type} ({event_comment})" if event_comment else event_type,
                    "parameters": [
                        {"$ref": f"#/components/parameters/{name}"}
                        for name in ("WebhookId", "WebhookTimestamp", "WebhookSignature")
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string", "pattern": "^evt_[0-9A-HJKMNP-TV-Z]{26}$"},
                                        "type": {"type": "string", "const": event_type},
                                        "createdAt": {"type": "integer", "description": "Unix milliseconds"},
                                        "data": data,
                                    },
                                    "required": ["id", "type", "createdAt", "data"],
                                }
                            }
                        },
                    },
                    "responses": {
                        "2XX": {"description": "Delivered: any 2xx answer. Anything else is retried on a schedule."}
                    },
                }
            }
        return hooks


def openapi_path(template: str, request: descriptor_pb2.DescriptorProto) -> str:
    """The rule's path with its variables named by their JSON names: /crm/contacts/{contactId}."""
    json_names = {f.name: f.json_name for f in request.field}
    return re.sub(r"{([^}=]+)(=[^}]*)?}", lambda m: "{" + json_names[m.group(1)] + "}", template)


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    if isinstance(schema.get("type"), str):
        nullable = {**schema, "type": [schema["type"], "null"]}
        if "enum" in nullable:
            nullable["enum"] = [*nullable["enum"], None]
        return nullable
    return schema


def generate(descriptor: pathlib.Path = DESCRIPTOR) -> Schema:
    return Generator(Descriptors.read(descriptor)).document()


def _webhook_header_parameters() -> dict[str, Schema]:
    return {
        "WebhookId": {
            "name": "webhook-id",
            "in": "header",
            "required": True,
            "description": "The event id: the same on every attempt and resend; deduplicate on it.",
            "schema": {"type": "string"},
        },
        "WebhookTimestamp": {
            "name": "webhook-timestamp",
            "in": "header",
            "required": True,
            "description": "The attempt's Unix seconds.",
            "schema": {"type": "integer"},
        },
        "WebhookSignature": {
            "name": "webhook-signature",
            "in": "header",
            "required": True,
            "description": (
                "v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{body}> (Standard Webhooks); "
                "two, space-separated, for 24 hours after a secret rotation."
            ),
            "schema": {"type": "string"},
        },
    }


def main(argv: list[str]) -> None:
    descriptor = pathlib.Path(argv[0]) if argv else DESCRIPTOR
    output = pathlib.Path(argv[1]) if len(argv) > 1 else SPEC
    document = generate(descriptor)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
