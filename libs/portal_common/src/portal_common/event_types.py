"""Every type of event the services record (docs/events.md), in the order the docs list them: the
producers' vocabulary, what the events service's feed filter and webhook endpoints accept, and the
webhooks the OpenAPI document describes."""

EVENT_TYPES = (
    "contact.created",
    "contact.updated",
    "contact.archived",
    "crm_organization.created",
    "crm_organization.updated",
    "project.created",
    "project.updated",
    "project.archived",
    "project.deleted",
    "invoice.created",
    "invoice.updated",
    "invoice.sent",
    "invoice.paid",
    "invoice.cancelled",
    "invoice.overdue",
    "invoice.email_failed",
    "portal_user.created",
    "webhook_endpoint.disabled",
    "webhook_endpoint.test",
)
